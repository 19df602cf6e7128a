"Command line (11_cli): demo writes what it promises; train/eval round trip; one-line errors; helpful --help."
import pytest

from hlgfa_nb.cli import CONFIG_OPTIONS, find_checkpoints, main


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope='module')
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp('cli')/'demo'
    assert main(['demo', '--out', str(out), '--size', '64', '--epochs', '1', '--n-train', '6']) == 0
    return out


def test_demo_rerun_reuses_run(demo_dir, capsys):
    code, out, _ = run(['demo', '--out', str(demo_dir), '--size', '64', '--epochs', '1', '--n-train', '6'], capsys)
    assert code == 0 and str(demo_dir/'metrics.md') in out and 'untrained → trained' in out


def test_train_eval_round_trip(demo_dir, tmp_path, capsys):
    data = demo_dir/'data'/'synthetic_64'
    code, out, _ = run(['train', '--data', str(data), '--out', str(tmp_path/'per'), '--size', '64', '--epochs', '1',
                        '--per-category'], capsys)
    assert code == 0 and set(find_checkpoints(tmp_path/'per')) == {'washer', 'weave'}
    code, out, _ = run(['eval', '--checkpoint', str(tmp_path/'per'), '--out', str(tmp_path/'eval'), '--examples', '1'], capsys)
    assert code == 0 and (tmp_path/'eval'/'metrics.csv').is_file() and '| Category |' in out


@pytest.mark.parametrize('argv,text', [
    (['train', '--data', '/no/such/folder', '--out', 'x'], '--data /no/such/folder: no such folder'),
    (['eval', '--checkpoint', '/no/such/run'], 'no checkpoint.pt there'),
    (['eval', '--checkpoint', __file__], 'damaged or not a checkpoint'),
])
def test_errors_are_one_line(argv, text, capsys):
    code, _, err = run(argv, capsys)
    assert code == 2 and text in err and err.count('\n') == 1 and 'Traceback' not in err


def test_bad_option_and_help(capsys):
    with pytest.raises(SystemExit) as e: main(['train', '--epochs', 'ten'])
    assert e.value.code == 2 and "argument --epochs: 'ten': must be an integer ≥ 1" in capsys.readouterr().err
    for cmd in ('demo', 'train', 'eval', 'reproduce', 'bench'):
        with pytest.raises(SystemExit): main([cmd, '--help'])
        assert 'usage: hlgfa ' + cmd in capsys.readouterr().out


def test_options_are_config_fields_and_shared():
    "Every shared option sets a Config field, and demo, train and reproduce all take them."
    from hlgfa_nb.runs import Config
    from operator import attrgetter
    for field in CONFIG_OPTIONS: attrgetter(field)(Config())        # a field of Config, or of one of its sections
    from hlgfa_nb.cli import _parser
    subs = _parser()._subparsers._group_actions[0].choices
    for cmd in ('demo', 'train', 'reproduce'):
        assert {a.dest for a in subs[cmd]._actions} >= set(CONFIG_OPTIONS), cmd


def test_moved_weights_and_data_and_failed_category(demo_dir, tmp_path, capsys):
    "A run whose weights file and data moved is evaluated with --weights and --data; a broken category exits 1."
    import shutil, timm, torch
    torch.save(timm.create_model('resnet18').state_dict(), tmp_path/'r18.pth')
    data = tmp_path/'data'; shutil.copytree(demo_dir/'data'/'synthetic_64', data)
    code, _, _ = run(['train', '--data', str(data), '--out', str(tmp_path/'r'), '--size', '64', '--epochs', '1',
                      '--backbone', 'resnet18', '--weights', str(tmp_path/'r18.pth')], capsys)
    assert code == 0
    (tmp_path/'r18.pth').rename(tmp_path/'moved.pth'); data.rename(tmp_path/'moved_data')
    code, _, err = run(['eval', '--checkpoint', str(tmp_path/'r'), '--out', str(tmp_path/'e1')], capsys)
    assert code == 2 and f"weights file {tmp_path/'r18.pth'} not found" in err
    next((tmp_path/'moved_data'/'weave'/'test'/'good').iterdir()).write_bytes(b'damaged')
    with pytest.warns(UserWarning, match='category weave not evaluated'):
        code, out, err = run(['eval', '--checkpoint', str(tmp_path/'r'), '--out', str(tmp_path/'e2'), '--examples', '0',
                              '--weights', str(tmp_path/'moved.pth'), '--data', str(tmp_path/'moved_data')], capsys)
    assert code == 1 and '| washer |' in out and 'category weave not evaluated' in err
    assert 'Not evaluated: weave' in (tmp_path/'e2'/'metrics.md').read_text()


@pytest.mark.parametrize('flags', [['--size', '64x96'], ['--size', '64', '--typicality', '1']])
def test_demo_with_a_rectangular_size_or_the_typicality_term(flags, tmp_path, capsys):
    "The untrained reference gets the run's geometry and, with the typicality term, its own feature statistics."
    code, out, err = run(['demo', '--out', str(tmp_path/'d'), '--epochs', '1', '--n-train', '4', *flags], capsys)
    assert code == 0 and 'untrained → trained' in out, err


def test_train_chooses_its_scoring_on_normal_images(demo_dir, tmp_path, capsys):
    import json, shutil
    from hlgfa_nb.reproduce import REMEDY_GRID
    from hlgfa_nb.runs import Run
    data = tmp_path/'data'/'weave'
    shutil.copytree(demo_dir/'data'/'synthetic_64'/'weave'/'train', data/'train')     # normal images only: no test set to read
    code, out, err = run(['train', '--data', str(data.parent), '--out', str(tmp_path/'r'), '--size', '64', '--epochs', '1',
                          '--choose-scoring'], capsys)
    assert code == 0, err
    chosen = out.split('chosen on validation images made from the normal training images: ')[1].split('\n')[0]
    score = Run.open(tmp_path/'r'/'checkpoint.pt').cfg.score
    assert (score.statistics, score.typicality, score.margin) == tuple(REMEDY_GRID[chosen].values()) and '← chosen' in out
    fitted = Run.open(tmp_path/'r'/'checkpoint.pt').detector.typicality                  # the statistics it chose, if any
    assert (fitted is None) == (score.typicality == 0) and (fitted is None or fitted.kind == score.statistics)
    assert json.loads((tmp_path/'r'/'choose_scoring.json').read_text())['data']['setting']['chosen'] == chosen


@pytest.mark.parametrize('flags,why', [(['--per-category'], 'one model for all categories'),
                                       (['--typicality', '1'], 'no --typicality, --statistics or --margin'),
                                       (['--statistics', 'memory'], 'no --typicality, --statistics or --margin')])
def test_choose_scoring_refuses_what_it_cannot_do(demo_dir, tmp_path, capsys, flags, why):
    code, _, err = run(['train', '--data', str(demo_dir/'data'/'synthetic_64'), '--out', str(tmp_path/'r'), '--size', '64',
                        '--epochs', '1', '--choose-scoring', *flags], capsys)
    assert code != 0 and why in err and not (tmp_path/'r').exists()
