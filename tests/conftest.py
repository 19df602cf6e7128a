import pytest
from hlgfa_nb.data import make_synthetic_mvtec


@pytest.fixture(scope='session')
def synth(tmp_path_factory):
    "A small synthetic MVTec-layout dataset shared by the tests (64 px)."
    return make_synthetic_mvtec(tmp_path_factory.mktemp('data')/'synth', n_train=6, n_test_good=3, n_test_defect=2, size=64)
