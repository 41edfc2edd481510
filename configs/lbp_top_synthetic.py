r"""LBP-TOP (Zhao and Pietikainen, IEEE TPAMI 2007), LOSO on the built-in synthetic
micro-expression data: uniform LBP histograms on the XY, XT and YT planes of 8 grey
64x64 frames per clip over a 4 x 4 grid of blocks, read by a class-balanced logistic
regression whose L2 an inner CV over each fold's training subjects chooses (the run's
baseline line; no training loop), and by one dense layer trained like the other models
(the run's headline, so the run leaves a model folder for ``predict``). HTNet's
composite release holds flow only, so LBP-TOP has no composite run; the database
builders keep frames with ``--config.data.build.clip_frames=8``.

  python run.py --config=configs/lbp_top_synthetic.py

3.1 minutes on a 2-core CPU (jax 0.10.2; the synthetic records with frames already
built). Seed 0: the logistic regression on LBP-TOP scores UF1 0.337 / UAR 0.342 (the
dense layer, last epoch, 0.276 / 0.337): chance. The synthetic clips' class is a motion
of about a pixel over each subject's own texture, which grey-level patterns do not carry
across subjects (docs/results.md, FDP); the linear model on their flow scores 0.79.
"""

from configs.common import base_config, handcrafted

NUM_FRAMES = 8


def get_config(arg: str = ""):
    del arg
    c = handcrafted(base_config("lbp_top_synthetic"), "lbp_top")
    c.data.synthetic.clip_frames = NUM_FRAMES
    c.data.build.clip_frames = NUM_FRAMES
    c.data.face_size = 64
    c.data.flow_size = 28
    return c
