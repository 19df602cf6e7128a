import pytest
from hlgfa_nb.data import data_home, make_synthetic_mvtec, magnetic_tile
from hlgfa_nb.train import fit
from hlgfa_nb.runs import preset


@pytest.fixture(scope='session')
def synth(tmp_path_factory):
    "A small synthetic MVTec-layout dataset shared by the tests (64 px)."
    return make_synthetic_mvtec(tmp_path_factory.mktemp('data')/'synth', n_train=6, n_test_good=3, n_test_defect=2, size=64)


@pytest.fixture(scope='session')
def dev_tiles():
    "The magnetic-tile dev set when the data home holds it (CI: HLGFA_DATA is shared/data), else None: tests never download."
    return magnetic_tile('dev') if (data_home()/'magnetic_tile_dev'/'train'/'good').is_dir() else None


@pytest.fixture(scope='session')
def run(synth, tmp_path_factory):
    "A one-epoch run on both synthetic categories, a third of the normal images held out and calibrated on (tests that change it restore it)."
    return fit(preset('cpu', synth, image_size=64, epochs=1, batch_size=2, holdout=0.34),
               tmp_path_factory.mktemp('deploy')/'run', progress=False)
