r"""FDP (arXiv 2509.06015) as its reference trains it (CYF-cuber/FDP): LOSO on
CASME II, 5 classes (the builder's 'five' set: happiness, repression, disgust,
surprise, others; fear and sadness left out).

CASME II is licensed: request it from the CASME team and pass its folder
(CASME2-coding-*.xlsx and Cropped/ or CASME2_RAW_selected/).

  python run.py --config=configs/fdp_casme2.py \
      --config.data.manual_dir=/path/to/CASME2

The records hold 8 grey face frames per clip, uniform over onset..offset
(data.build.clip_frames=8), cropped with the clip's face box and resized to
64x64, normalised (x / 255 - 0.5) / 0.5. The recipe (configs/fdp_recipe.py):
Adam lr 1e-4 with torch's coupled L2 weight decay 1e-3, batch 36, no
augmentation, loss CE + 100 x MSE of the decoded
dynamic image. The reference trains 500 iterations and keeps each fold's best
test epoch; here 500 epochs and honest last-epoch selection (the best-test-epoch
figure is reported beside it; --config.protocol.selection=best_test_epoch makes
it the headline). Default: the compact network (CPU-sized); the reference's
sizes (Next-ViT-S-like encoder with its attention blocks, 4096 features per
frame): --config=configs/fdp_casme2.py:paper (GPU advised).

Not timed here: CASME II is licensed and not on this project's machines; the
same model on the synthetic data is timed in configs/fdp_synthetic.py.
"""

from configs.fdp_recipe import fdp_config


def get_config(arg: str = "compact"):
    c = fdp_config("fdp_casme2", "casme2", preset=arg or "compact")
    c.data.build.classes = "five"
    c.data.build.flow_size = 28  # FDP reads no flow: small, for the baseline only
    c.train.epochs = 500
    return c
