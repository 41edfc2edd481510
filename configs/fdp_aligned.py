r"""FDP (arXiv 2509.06015), LOSO on the 'aligned' variant of the synthetic data.

As configs/fdp_synthetic.py (8 subjects, 12 clips each, 8 frames of 64x64 per clip,
the compact FDP, 10 epochs, Adam lr 1e-3, honest last epoch), on faces drawn centred and
equally scaled across subjects (as a face chain's alignment leaves them) with the
expression's peak displacement doubled (0.6..3 px at 128 px): there the appearance
change is consistent across subjects, and a linear model on the clip's dynamic image
reads the class at UF1 0.766 under the same folds (bench/fdp_input_check.py
--aligned --peak_scale=2). The default synthetic data is unchanged.

  python run.py --config=configs/fdp_aligned.py --config.protocol.seeds=3

20.5 min on a 2-core CPU for the 3 seeds (14.3 min without the reconstruction term,
--config.model.fdp.mse_weight=0; 16.7 min with --config.model.fdp.score_init=rank, 16.0 min
adding --config.train.class_balance=True, 28.1 min adding --config.train.epochs=30; each
run alone, building the data included in none). Measured, last epoch, mean of 3 seeds: UF1
0.271 ± 0.024 (0.284 ± 0.013 without the reconstruction term; 0.276 ± 0.019 with rank init;
0.318 ± 0.057 adding class balance; 0.300 ± 0.016 at 30 epochs),
against 0.766 for the linear model on the dynamic image (bench/runs/fdp_aligned/
comparison.json; README, "FDP: on which data it learns").
"""

from configs.fdp_synthetic import get_config as fdp_synthetic


def get_config(arg: str = "compact"):
    c = fdp_synthetic(arg)
    c.name = "fdp_aligned"
    c.data.synthetic.update(aligned=True, peak_scale=2.0)
    return c
