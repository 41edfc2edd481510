r"""FaceSleuth-R trained with the PyTorch reference's recipe (Svardfox/FaceSleuth)
on SAMM: LOSO, the 5 classes of the reference's SAMM_5.py (0 happiness, 1 anger,
2 contempt, 3 surprise, 4 other; disgust, fear and sadness left out: 136 samples
over 27 subjects with SAMM_Micro_FACS_Codes_v2.xlsx), batch 35 as SAMM_5.py.

SAMM is licensed: request it from Manchester Metropolitan University and pass its
folder (SAMM_Micro_FACS_Codes_v2.xlsx and SAMM/).

  python run.py --config=configs/reference_samm_5class.py \
      --config.data.manual_dir=/path/to/SAMM

The recipe is CASME2_5.py's (configs/reference_recipe.py): 224x224 RGB faces,
ImageNet normalisation, temporal jitter, flip/rotate/crop, the frame-difference
network with the reference SOA, 99 epochs, AdamW with two groups and decay for
50 epochs. The sheet's action units are not fed to the model (that leaks labels;
--config.model.faceslueth_r.au_dim=21 does it as CASME2_5.py does, with a LABEL LEAK warning
in the outputs). SAMM_5.py in the
reference repository is an older script and differs: it trains MMNet (no Swin,
no SOA angle group), for 74 epochs with the decay stepped every epoch, and feeds
no action units; it reads whole 960x650 frames, where this builder crops the face.
Selection is honest (last epoch); the reference's best test epoch per fold is
reported beside it.

Not timed here: the database is licensed and not on this project's machines, and
no GPU was available when this config was written. The first run builds the
records (face detection, RGB, 4-frame jitter windows, JAX TV-L1 flow) into
~/tensorflow_datasets/samm. Paper-sized network: GPU/TPU advised. A CPU-sized
trial: --config=configs/reference_samm_5class.py:compact (estimate, scaled from
the composite's measured 34 min on 2 cores by folds x training samples x epochs,
doubled for the Swin seeing onset and apex: about 40 min plus the conversion).
"""

from configs.reference_recipe import reference_config


def get_config(arg: str = "paper"):
    return reference_config("reference_samm_5class", "samm", batch_size=35,
                            preset=arg or "paper")
