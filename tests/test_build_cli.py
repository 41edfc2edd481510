"""``python -m tfds_builders build``: help, one-line errors that leave nothing behind,
and no TFDS download chatter (nor from ``sources.prepare`` building on first use)."""

from __future__ import annotations

import logging
import os
import pathlib
import re
import shutil
import subprocess
import sys

import ml_collections
import pytest

from faceslueth_jax.data import sources
from tests import database_fixtures as fx
from tfds_builders import building
from tfds_builders.__main__ import main

REPO = pathlib.Path(__file__).resolve().parents[1]
SMALL = ["--flow_size=28", "--face_size=48"]  # small crops keep TV-L1 fast
# What TFDS prints for a build: none of it may show.
CHATTER = ("Downloading and preparing", "downloaded and prepared", "Generating splits",
           "Generating train examples", "Shuffling", "examples/s", "%|",
           "Using custom data configuration", "Generating dataset", "Done writing",
           "Variant folder")


def _tree(folder: pathlib.Path) -> set:
    """Every path under ``folder`` (relative), hidden ones included."""
    return {p.relative_to(folder) for p in folder.rglob("*")} if folder.exists() else set()


def _data_dir_in_use(tmp_path) -> pathlib.Path:
    """A data_dir that already holds things a failed build must not touch: another
    dataset, a casme2 config built earlier, a file in downloads/."""
    data_dir = tmp_path / "tfds"
    for path in ("other_dataset/1.0.0/data.array_record", "casme2/five_earlier/1.2.0/x.json",
                 "downloads/kept.zip"):
        (data_dir / path).parent.mkdir(parents=True, exist_ok=True)
        (data_dir / path).write_text("kept")
    return data_dir


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_build_help_explains_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["build", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    entries = re.split(r"\n  (?=[-a-z])", text.split("\noptions:\n")[1])
    blocks = {e.split()[0].rstrip(","): " ".join(e.split()) for e in entries}
    defaults = {"--data_dir": None, "--classes": "megc3", "--flow_size": "112",
                "--face_size": "112", "--flow_method": "tvl1", "--flow_norm": "raw",
                "--apex": "flow", "--margin": "0.1", "--face_color": "False",
                "--jitter_frames": "0", "--clip_frames": "0", "--on_error": "raise"}
    for option, default in defaults.items():
        block = blocks[option]
        assert f"(default: {default or ''}" in block, block
        described = re.sub(r"\(default: .*\)|\{[^}]*\}|[A-Z_]{3,}", "", block.split(None, 1)[1])
        assert len(described.split()) >= 6, f"{option} is not described: {block}"
    assert "(default" not in blocks["--manual_dir"] and "required" in blocks["--manual_dir"]
    meanings = {"--classes": ["megc3", "negative", "positive", "surprise", "five",
                              "happiness", "repression", "anger", "contempt", "native", "own"],
                "--flow_method": ["tvl1", "TV-L1", "farneback", "OpenCV"],
                "--flow_norm": ["raw", "pixels", "minmax", "0..1"],
                "--apex": ["flow", "middle"],
                "--on_error": ["raise", "skip", "skipped"],
                "--flow_size": ["28", "224"], "--margin": ["fraction"],
                "--clip_frames": ["onset..offset"], "--jitter_frames": ["window"],
                "--face_color": ["RGB", "grey"], "--data_dir": ["NAME"]}
    for option, words in meanings.items():
        for word in words:
            assert word in blocks[option], f"{option} help lacks {word!r}: {blocks[option]}"


def test_missing_manual_dir_is_one_line_and_writes_nothing(tmp_path, capsys):
    data_dir = _data_dir_in_use(tmp_path)
    before = _tree(data_dir)
    missing = tmp_path / "MISSING"
    assert main(["build", "casme2", f"--manual_dir={missing}", f"--data_dir={data_dir}"]) == 2
    line = _one_error_line(capsys)
    assert str(missing) in line and "does not exist" in line
    assert _tree(data_dir) == before
    fresh = tmp_path / "fresh"
    assert main(["build", "samm", f"--manual_dir={missing}", f"--data_dir={fresh}"]) == 2
    _one_error_line(capsys)
    assert not fresh.exists()
    (tmp_path / "empty").mkdir()
    assert main(["build", "casme2", f"--manual_dir={tmp_path / 'empty'}",
                 f"--data_dir={data_dir}"]) == 2
    assert "is empty" in _one_error_line(capsys)
    assert _tree(data_dir) == before


def test_manual_dir_in_another_layout_is_one_line_and_writes_nothing(tmp_path, capsys):
    manual = fx.write_samm(tmp_path / "samm", fx.SAMM_CLIPS[:1])
    data_dir = _data_dir_in_use(tmp_path)
    before = _tree(data_dir)
    assert main(["build", "casme2", f"--manual_dir={manual}", f"--data_dir={data_dir}"]) == 2
    line = _one_error_line(capsys)
    assert "CASME2-coding-*.xlsx" in line and str(manual) in line
    assert _tree(data_dir) == before
    fresh = tmp_path / "fresh"
    assert main(["build", "casme3", f"--manual_dir={manual}", f"--data_dir={fresh}"]) == 2
    assert "cas(me)3_part_A_ME_label_JpgIndex_v2.xlsx" in _one_error_line(capsys)
    assert not fresh.exists()


def test_failed_build_leaves_nothing_behind(tmp_path, capsys):
    manual = fx.write_casme2(tmp_path / "casme2", fx.CASME2_CLIPS[:2])
    gone = manual / "Cropped" / "sub01" / "EP19_05f" / "reg_img122.jpg"
    gone.unlink()
    data_dir = _data_dir_in_use(tmp_path)
    before = _tree(data_dir)
    assert main(["build", "casme2", f"--manual_dir={manual}", f"--data_dir={data_dir}",
                 *SMALL]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: casme2: 1 problem(s)") and str(gone) in err
    assert _tree(data_dir) == before


def test_build_prints_its_own_line_and_no_tfds_chatter(tmp_path):
    manual = fx.write_casme2(tmp_path / "casme2", fx.CASME2_CLIPS[:2])
    data_dir = tmp_path / "tfds"
    proc = subprocess.run(
        [sys.executable, "-m", "tfds_builders", "build", "casme2", f"--manual_dir={manual}",
         f"--data_dir={data_dir}", *SMALL], cwd=REPO, capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for text in CHATTER:
        assert text not in proc.stdout + proc.stderr, (text, proc.stdout, proc.stderr[-3000:])
    lines = proc.stdout.splitlines()
    assert lines[0] == (f"building casme2 records from {manual} into {data_dir}/casme2/"
                        f"megc3_flow28_face48_tvl1_raw_apexflow_margin0p1/1.2.0 (first use)")
    assert "2 samples, 1 subjects" in lines[1]


def test_prepare_on_first_use_prints_one_line_and_no_tfds_chatter(tmp_path, capsys, caplog):
    manual = fx.write_casme2(tmp_path / "casme2", fx.CASME2_CLIPS[:2])
    cfg = ml_collections.ConfigDict(dict(
        name="casme2", data_dir=str(tmp_path / "tfds"), manual_dir=str(manual), synthetic={},
        build=dict(flow_size=28, face_size=48), on_error="raise"))
    builder = sources.prepare(cfg)
    assert builder.is_prepared()
    out = capsys.readouterr()
    assert out.out.splitlines() == [f"building casme2 records from {manual} into "
                                    f"{builder.data_dir} (first use)"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for text in CHATTER:
        assert text not in out.out + out.err + logged, text
    sources.prepare(cfg)  # built from this source: one line says so
    out = capsys.readouterr()
    assert out.out.startswith(f"reusing casme2 records built from {manual} at ") and out.err == ""
    assert len(out.out.splitlines()) == 1


def test_only_tfds_build_chatter_is_filtered():
    """The log filter drops TFDS's build notes by message and origin, nothing else."""
    from tfds_builders import building
    chatter = building.TfdsChatter()

    def record(msg, pathname, level=logging.INFO):
        return logging.LogRecord("absl", level, pathname, 1, msg, ("a", "b"), None)

    tfds_file = "/x/site-packages/tensorflow_datasets/core/dataset_builder.py"
    assert not chatter.filter(record("Generating dataset %s (%s)", tfds_file))
    assert not chatter.filter(record("Using custom data configuration: %s", tfds_file,
                                     logging.WARNING))
    assert chatter.filter(record("Deleting pre-existing dataset %s (%s)", tfds_file))
    assert chatter.filter(record("Generating dataset %s (%s)", "/work/main/run.py"))
    logger = logging.getLogger("absl")
    with building.quiet():
        assert any(isinstance(f, building.TfdsChatter) for f in logger.filters)
    assert not any(isinstance(f, building.TfdsChatter) for f in logger.filters)


def _casme2_build(manual, data_dir, *extra):
    return main(["build", "casme2", f"--manual_dir={manual}", f"--data_dir={data_dir}", *SMALL,
                 *extra])


def test_records_of_another_source_are_refused_and_rebuilt_only_on_request(tmp_path, capsys):
    """Reused when the source is the same (wherever it is mounted); a sheet with one
    more row is refused in one line naming the sheet and the option that rebuilds;
    --overwrite rebuilds, the old records readable until the new ones are complete."""
    manual = fx.write_casme2(tmp_path / "casme2", fx.CASME2_CLIPS[:2])
    data_dir = tmp_path / "tfds"
    assert _casme2_build(manual, data_dir) == 0
    capsys.readouterr()
    moved = tmp_path / "mounted_elsewhere"
    shutil.copytree(manual, moved)
    assert _casme2_build(moved, data_dir) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert re.fullmatch(rf"reusing casme2 records built from {manual} at \S+ \(.*\)", first), first

    fx.write_casme2(moved, fx.CASME2_CLIPS[:3])  # one more row (and its frames)
    assert _casme2_build(moved, data_dir) == 2
    line = _one_error_line(capsys)
    assert f"sheet {fx.CASME2_SHEET} changed" in line and "--overwrite" in line, line
    assert str(manual) in line and str(moved) in line

    builder = building.same_builder(_built(data_dir), str(data_dir))
    assert len(builder.as_data_source()["train"]) == 2
    readable_during_build = []
    real_build = building.build

    def build_and_look(fresh, manual_dir):
        real_build(fresh, manual_dir)
        old = building.same_builder(fresh, str(data_dir))  # not swapped in yet
        readable_during_build.append(len(old.as_data_source()["train"]))

    building.build = build_and_look
    try:
        assert _casme2_build(moved, data_dir, "--overwrite") == 0
    finally:
        building.build = real_build
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"rebuilding casme2 records from {moved}"), out
    assert readable_during_build == [2]
    assert len(building.same_builder(_built(data_dir), str(data_dir))
               .as_data_source()["train"]) == 3
    assert not [p for p in data_dir.rglob(".*") if p.name != ".config"], "staging left behind"
    assert _casme2_build(moved, data_dir) == 0  # and reused from now on
    assert capsys.readouterr().out.startswith(f"reusing casme2 records built from {moved}")


def _built(data_dir):
    from tfds_builders.registry import database_builder
    with building.quiet():
        return database_builder("casme2").from_fields(str(data_dir), flow_size=28, face_size=48)


@pytest.mark.parametrize("option, message", [
    ("--flow_size=-5", "flow_size must be an integer >= 8 (pixels), got -5"),
    ("--face_size=0", "face_size must be an integer >= 8 (pixels), got 0"),
    ("--margin=-0.5", "margin must be a number in [0, 2.0]")])
def test_record_options_out_of_range_are_one_line(tmp_path, capsys, option, message):
    manual = fx.write_casme2(tmp_path / "casme2", fx.CASME2_CLIPS[:1])
    assert main(["build", "casme2", f"--manual_dir={manual}", f"--data_dir={tmp_path / 'tfds'}",
                 option]) == 2
    assert message in _one_error_line(capsys)
    assert not (tmp_path / "tfds").exists()


def _looping(frame: pathlib.Path) -> None:
    """The frame replaced by a symbolic link to itself: os.symlink(name, name)."""
    frame.unlink()
    os.symlink(frame.name, frame)


def _dangling(frame: pathlib.Path) -> None:
    frame.unlink()
    os.symlink(frame.name + ".gone", frame)


@pytest.mark.parametrize("on_error", ["raise", "skip"])
@pytest.mark.parametrize("make, why", [(_looping, "a symbolic link that loops"),
                                       (_dangling, "a symbolic link to reg_img122.jpg.gone, "
                                                   "which does not exist")])
def test_a_frame_the_file_system_cannot_give_is_one_line(tmp_path, capsys, make, why, on_error):
    """A frame file that is a symlink to itself (Errno 40) or to nothing cannot be
    fingerprinted: one line naming it, exit 2, data_dir untouched, whatever on_error."""
    manual = fx.write_casme2(tmp_path / "casme2", fx.CASME2_CLIPS[:2])
    frame = manual / "Cropped" / "sub01" / "EP19_05f" / "reg_img122.jpg"
    make(frame)
    data_dir = _data_dir_in_use(tmp_path)
    before = _tree(data_dir)
    assert _casme2_build(manual, data_dir, f"--on_error={on_error}") == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"error: casme2: {frame} in manual_dir cannot be read: {why}"), line
    assert _tree(data_dir) == before


def test_run_py_refuses_a_looping_frame_in_one_line(tmp_path):
    manual = fx.write_casme2(tmp_path / "casme2", fx.CASME2_CLIPS[:1])
    frame = manual / "Cropped" / "sub01" / "EP02_01f" / "reg_img46.jpg"
    _looping(frame)
    data_dir = tmp_path / "tfds"
    proc = subprocess.run(
        [sys.executable, "run.py", "--config=configs/loso_casme2.py",
         f"--config.data.manual_dir={manual}", f"--config.data.data_dir={data_dir}",
         "--config.data.build.flow_size=28", "--config.data.build.face_size=48",
         f"--workdir={tmp_path / 'run'}"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and str(frame) in errors[0], proc.stderr[-3000:]
    assert "symbolic link that loops" in errors[0]
    assert not [p for p in data_dir.rglob("*") if p.is_file() and ".config" not in p.parts]


def test_records_built_before_a_frame_began_to_loop_are_kept_and_the_loop_named(tmp_path,
                                                                                capsys):
    """Checking built records against their source meets the looping frame too: one
    line naming it, exit 2, the records untouched."""
    manual = fx.write_casme2(tmp_path / "casme2", fx.CASME2_CLIPS[:1])
    data_dir = tmp_path / "tfds"
    assert _casme2_build(manual, data_dir) == 0
    capsys.readouterr()
    before = _tree(data_dir)
    frame = manual / "Cropped" / "sub01" / "EP02_01f" / "reg_img46.jpg"
    _looping(frame)
    assert _casme2_build(manual, data_dir) == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"error: casme2: {frame} in manual_dir cannot be read: a symbolic "
                           "link that loops"), line
    assert _tree(data_dir) == before
