"""Plain folders (chapter 00): a folder of normal images and one of defective ones, with masks or without, train and evaluate
like the same images in MVTec layout."""
import shutil

import numpy as np
import pytest

from hlgfa_nb.cli import main
from hlgfa_nb.data import Folders, MVTecDataset, folder_samples
from hlgfa_nb.evaluate import evaluate


@pytest.fixture(scope='module')
def plain(synth, tmp_path_factory):
    "The synthetic weave category as plain folders: good/, bad/<type>/ and masks/<type>/<name>.png (no _mask suffix)."
    root = tmp_path_factory.mktemp('plain')
    shutil.copytree(synth/'weave'/'train'/'good', root/'ok_train')
    shutil.copytree(synth/'weave'/'test'/'good', root/'ok_test')
    for t in (p for p in (synth/'weave'/'test').iterdir() if p.name != 'good'):
        shutil.copytree(t, root/'bad'/t.name)
        for m in (synth/'weave'/'ground_truth'/t.name).iterdir():
            (root/'masks'/t.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(m, root/'masks'/t.name/m.name.replace('_mask', ''))
    return root


def test_folder_samples_match_the_mvtec_layout(synth, plain):
    mv = MVTecDataset(synth, 'test', 'weave').samples
    fo = folder_samples(Folders(plain/'ok_test', plain/'bad', plain/'masks'), 'test')
    assert sorted((s.defect, s.path.name, s.mask_path.name if s.mask_path else None) for s in fo) == \
        sorted((s.defect, s.path.name, s.mask_path.name.replace('_mask', '') if s.mask_path else None) for s in mv)
    assert [s.path.name for s in folder_samples(Folders(plain/'ok_train'))] == [s.path.name for s in MVTecDataset(synth, 'train', 'weave').samples]


def test_plain_folders_train_and_evaluate_like_the_mvtec_layout(synth, plain, tmp_path, capsys):
    common = ['--size', '64', '--epochs', '1', '--batch-size', '2']
    assert main(['train', '--data', str(synth), '--categories', 'weave', '--out', str(tmp_path/'mv'), *common]) == 0
    assert main(['train', '--normal', str(plain/'ok_train'), '--out', str(tmp_path/'fo'), *common]) == 0
    assert main(['eval', '--checkpoint', str(tmp_path/'mv'), '--out', str(tmp_path/'e_mv'), '--examples', '0']) == 0
    assert main(['eval', '--checkpoint', str(tmp_path/'fo'), '--normal', str(plain/'ok_test'), '--abnormal', str(plain/'bad'),
                 '--masks', str(plain/'masks'), '--out', str(tmp_path/'e_fo'), '--examples', '0']) == 0
    rows = lambda d: (d/'metrics.csv').read_text().splitlines()[1].split(',')[2:]
    assert rows(tmp_path/'e_mv') == rows(tmp_path/'e_fo')                         # the same seven numbers


def test_defective_images_without_masks_are_evaluated_at_image_level(run, synth, plain, tmp_path):
    with pytest.warns(UserWarning, match='none of its 8 defective test images has a mask'):
        res = evaluate(run, Folders(plain/'ok_test', plain/'bad'), progress=False)
    m = res.categories['images'].metrics
    assert 0 <= m['AUC-I'] <= 1 and np.isnan(m['AUC-P']) and np.isnan(m['PRO'])
    assert 'n/a' in res.to_markdown()
    mvtec = tmp_path/'mv'; shutil.copytree(synth/'weave', mvtec/'weave'); shutil.rmtree(mvtec/'weave'/'ground_truth')
    with pytest.warns(UserWarning, match='evaluated at image level'):
        r2 = evaluate(run, mvtec, progress=False).categories['weave'].metrics
    assert r2['AUC-I'] == m['AUC-I'] and np.isnan(r2['AUC-P'])                   # the same images, the same layout rule


def test_some_masks_missing_or_unclaimed_are_named(plain, tmp_path):
    masks = tmp_path/'masks'; shutil.copytree(plain/'masks', masks)
    gone = sorted((masks/'spot').iterdir())[0]; gone.rename(masks/'stray.png')
    with pytest.raises(FileNotFoundError, match=r"1 of the 8 defective test images of images have no mask, e.g. .*spot"), \
         pytest.warns(UserWarning, match=r"1 masks in .* match no defective image \(e.g. .*stray.png\)"):
        folder_samples(Folders(plain/'ok_test', plain/'bad', masks), 'test')
    with pytest.raises(ValueError, match='holds no images for the train split'): folder_samples(Folders(abnormal=plain/'bad'))


def test_masks_that_match_nothing_or_overlapping_folders_are_refused(synth, plain, tmp_path):
    (tmp_path/'m').mkdir(); (tmp_path/'m'/'other.png').write_bytes((plain/'masks'/'spot'/'000.png').read_bytes())
    with pytest.raises(FileNotFoundError, match=r"8 of the 8 defective test images of images have no mask"), pytest.warns(UserWarning):
        folder_samples(Folders(plain/'ok_test', plain/'bad', tmp_path/'m'), 'test')
    gt = tmp_path/'mv'; shutil.copytree(synth/'weave', gt/'weave')
    for m in (gt/'weave'/'ground_truth').rglob('*_mask.png'): m.rename(m.with_name(m.name.replace('_mask', '')))
    with pytest.raises(FileNotFoundError, match='have no mask'): MVTecDataset(gt, 'test')    # masks there, misnamed
    with pytest.raises(ValueError, match='are both normal and defective'):
        folder_samples(Folders(plain, plain/'bad'), 'test')
    shutil.copytree(plain/'bad', tmp_path/'bad'); shutil.copytree(plain/'masks', tmp_path/'bad'/'masks')
    inside = folder_samples(Folders(plain/'ok_test', tmp_path/'bad', tmp_path/'bad'/'masks'), 'test')
    assert sum(s.label for s in inside) == 8 and all(s.mask_path for s in inside if s.label)   # masks not read as images
    (tmp_path/'bad'/'good').mkdir(); shutil.copy(plain/'ok_test'/'000.png', tmp_path/'bad'/'good')
    with pytest.raises(ValueError, match='would be read as defective'):
        folder_samples(Folders(plain/'ok_test', tmp_path/'bad', tmp_path/'bad'/'masks'), 'test')


def test_a_glob_of_defective_images_is_one_type(plain):
    s = folder_samples(Folders(str(plain/'ok_test'/'*.png'), str(plain/'bad'/'*'/'*.png')), 'test')
    assert {x.defect for x in s} == {'good', 'defect'} and sum(x.label for x in s) == 8
