import numpy as np
import pytest
import torch
from conftest import shared

from resnet_demo.nets import data


def test_bundled_subset_is_class_balanced_and_small():
    d = data.load_bundled()
    assert d.x_train.dtype == torch.uint8 and d.x_train.shape[1:] == (3, 32, 32)
    assert len(d.x_train) == 5000 and len(d.x_test) == 1000
    assert torch.bincount(d.y_train).tolist() == [500] * 10
    assert torch.bincount(d.y_test).tolist() == [100] * 10
    # any prefix is balanced too (the stored order interleaves classes)
    assert torch.bincount(d.y_train[:100]).tolist() == [10] * 10
    assert data.BUNDLED.stat().st_size < 15 * 2**20


def test_bundled_subset_equals_image_folder_loader():
    root = shared("cifar10-jpeg")
    bundled = data.load_bundled()
    folder = data.load_image_folder(root, per_class_train=500, per_class_test=100)
    for a, b in ((bundled.x_train, folder.x_train), (bundled.y_train, folder.y_train),
                 (bundled.x_test, folder.x_test), (bundled.y_test, folder.y_test)):
        assert torch.equal(a, b)


def test_normalize_matches_per_channel_formula():
    x = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    out = data.normalize(x)
    ref = (x.numpy() / 255.0 - np.array(data.MEAN)[None, :, None, None]) / np.array(data.STD)[None, :, None, None]
    assert np.allclose(out.numpy(), ref, atol=1e-5)


def test_augment_is_a_padded_crop_or_its_mirror():
    torch.manual_seed(0)
    x = torch.randn(64, 3, 32, 32)
    out = data.augment(x, torch.Generator().manual_seed(3))
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    flips = 0
    for i in range(64):
        matches = [(dy, dx, f) for dy in range(9) for dx in range(9) for f in (False, True)
                   if torch.equal(out[i], (lambda c: c.flip(-1) if f else c)(padded[i, :, dy:dy + 32, dx:dx + 32]))]
        assert matches, f"sample {i} is not a crop of the padded image"
        flips += matches[0][2]
    assert 10 < flips < 54  # about half are mirrored


def test_resize_area_downsamples():
    x = torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4).expand(1, 3, 4, 4).contiguous()
    small = data.resize(x, 2)
    assert small.shape == (1, 3, 2, 2) and small.dtype == torch.uint8
    assert small[0, 0].tolist() == [[2, 4], [10, 12]]  # means of 2x2 blocks (2.5 -> 2, 4.5 -> 4: round-half-even)


def test_load_rejects_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        data.load(str(tmp_path / "nope"))


def test_the_shipped_subset_is_what_its_script_makes(tmp_path):
    """assets/cifar10_subset.npz is reproduced, byte for byte, by python -m scripts.bundle_subset."""
    from resnet_demo.base.settings import BUNDLED_DATA
    from scripts.bundle_subset import build_bundle

    build_bundle(shared("cifar10-jpeg"), tmp_path / "subset.npz")
    with np.load(tmp_path / "subset.npz") as made, np.load(BUNDLED_DATA) as shipped:
        assert sorted(made.files) == sorted(shipped.files)
        assert all(np.array_equal(made[k], shipped[k]) for k in shipped.files)
