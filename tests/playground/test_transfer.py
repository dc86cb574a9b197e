"""Transfer learning from VGG19: the three modes, the frozen trunk left bit-identical, the
cached frozen features equal to freshly computed ones, the summary table's counts."""

import pytest
import torch

from playground.datasets import Dataset
from playground.transfer.engine import (
    FeatureCache,
    TransferConfig,
    TransferError,
    per_class_subset,
    transfer_build,
    transfer_summary,
    transfer_train,
)
from tests.conftest import require_model_file


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """VGG19's first two blocks in torchvision's layout, random but fixed: the same code
    path as the ImageNet file, without needing it."""
    g = torch.Generator().manual_seed(1)
    shapes = {0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128)}
    state = {}
    for index, (out, inp) in shapes.items():
        state[f"features.{index}.weight"] = torch.randn(out, inp, 3, 3, generator=g) * 0.05
        state[f"features.{index}.bias"] = torch.randn(out, generator=g) * 0.01
    path = tmp_path_factory.mktemp("vgg") / "vgg19-blocks12.pth"
    torch.save(state, path)
    return path


def tiny_data(n_train=24, n_val=12, classes=3, channels=1, side=12) -> Dataset:
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n_train + n_val) % classes
    x = torch.rand(n_train + n_val, channels, side, side, generator=g) * 0.3
    for label in range(classes):  # a bright bar whose row says the class
        x[y == label, :, 2 + 3 * label : 4 + 3 * label, :] += 0.6
    names = [f"c{i}" for i in range(classes)]
    return Dataset("tiny", names, x[:n_train], y[:n_train], x[n_train:], y[n_train:])


def config(**kw) -> TransferConfig:
    return TransferConfig(**{"cut": 2, "image_size": 16, "hidden": 16, "epochs": 3,
                             "batch_size": 8, **kw})  # fmt: skip


def trunk_state(net) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in net.layers.state_dict().items()}


def test_frozen_mode_leaves_every_backbone_weight_bit_identical(weights):
    data = tiny_data()
    net = transfer_build(config(mode="frozen"), 3, input_channels=1, weights=weights)
    before, head_before = trunk_state(net), net.head[-1].weight.clone()
    transfer_train(net, data)
    after = net.layers.state_dict()
    assert before.keys() == after.keys() and len(before) >= 8
    for name, value in before.items():
        assert torch.equal(value, after[name]), name  # bit for bit, not approximately
    assert not torch.equal(head_before, net.head[-1].weight)  # the head did train
    # and the weights are VGG's, as loaded
    state = torch.load(weights, weights_only=True)
    assert torch.equal(net.layers[2][2].weight, state["features.7.weight"])


def test_finetune_trains_only_the_last_blocks_at_a_smaller_rate(weights):
    data = tiny_data()
    net = transfer_build(config(mode="finetune", finetune_blocks=1), 3, input_channels=1,
                         weights=weights)  # fmt: skip
    block1, block2 = net.layers[1].state_dict(), net.layers[2].state_dict()
    block1 = {k: v.clone() for k, v in block1.items()}
    block2 = {k: v.clone() for k, v in block2.items()}
    transfer_train(net, data)
    assert all(torch.equal(v, net.layers[1].state_dict()[k]) for k, v in block1.items())
    assert not torch.equal(block2["0.weight"], net.layers[2].state_dict()["0.weight"])


def test_scratch_mode_is_the_same_architecture_with_random_weights(weights):
    tl = transfer_build(config(mode="frozen"), 3, input_channels=1, weights=weights)
    scratch = transfer_build(config(mode="scratch"), 3, input_channels=1)
    assert [tuple(p.shape) for p in tl.parameters()] == [
        tuple(p.shape) for p in scratch.parameters()
    ]
    assert not torch.equal(tl.layers[1][0].weight, scratch.layers[1][0].weight)
    assert all(p.requires_grad for p in scratch.parameters())


def test_cached_features_equal_freshly_computed_ones_and_are_computed_once(weights):
    data = tiny_data()
    net = transfer_build(config(mode="frozen", epochs=4), 3, input_channels=1, weights=weights)
    cache = FeatureCache()
    transfer_train(net, data, cache)
    assert cache.computed == len(data.train_y) + len(data.val_y)  # once, not once per epoch
    cached = cache.features(net, data.train_x)
    assert cache.computed == len(data.train_y) + len(data.val_y)  # all from the cache
    with torch.no_grad():
        fresh = torch.cat([net.frozen_part(data.train_x[i : i + 1]) for i in range(24)])
    assert cached.shape == fresh.shape == (24, 128, 4, 4)
    torch.testing.assert_close(cached, fresh, rtol=1e-5, atol=1e-4)
    with torch.no_grad():  # the same batches as the cache: exactly equal
        same = torch.cat([net.frozen_part(data.train_x[i : i + 64]) for i in range(0, 24, 64)])
    assert torch.equal(cached, same)
    # a changed picture is a new key: computed, not served stale
    changed = data.train_x[:1].clone()
    changed[0, 0, 0, 0] += 0.5
    cache.features(net, changed)
    assert cache.computed == len(data.train_y) + len(data.val_y) + 1


def test_summary_table_says_what_is_frozen_and_how_many_parameters_train(weights):
    net = transfer_build(config(mode="finetune"), 3, input_channels=1, weights=weights)
    table = transfer_summary(net)
    frozen = [row["frozen"] for row in table["rows"]]
    assert frozen == [False, True, False, False]  # prepare (no params), block 1, block 2, head
    head = sum(p.numel() for p in net.head.parameters())
    block2 = sum(p.numel() for p in net.layers[2].parameters())
    assert table["trainable_params"] == head + block2
    assert table["total_params"] == sum(p.numel() for p in net.parameters())
    assert table["rows"][2]["output_shape"] == [128, 4, 4]
    frozen_net = transfer_build(config(mode="frozen"), 3, input_channels=1, weights=weights)
    assert transfer_summary(frozen_net)["trainable_params"] == head


def test_per_class_subset_keeps_the_validation_pictures(weights):
    data = tiny_data(n_train=30)
    subset = per_class_subset(data, 2)
    assert subset.train_y.bincount().tolist() == [2, 2, 2]
    assert torch.equal(subset.val_x, data.val_x)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"mode": "melt"}, "mode must be"),
        ({"cut": 6}, "cut must be"),
        ({"cut": 3, "image_size": 4}, "image size"),
        ({"mode": "finetune", "finetune_blocks": 3}, "fine-tune 1..2"),
        ({"lr": float("nan")}, "learning rate"),
    ],
)
def test_settings_out_of_range_are_refused_with_a_reason(bad, message):
    with pytest.raises(TransferError, match=message):
        transfer_build(config(**bad), 3)


def test_imagenet_weights_from_the_model_file_match_style_transfers_vgg():
    require_model_file("vgg19_caffe_q.bin")
    from styletransfer.vgg import load_vgg19
    from webapp.modelfiles import model_path

    net = transfer_build(config(mode="frozen", cut=3, image_size=32), 10, input_channels=1)
    vgg = load_vgg19(model_path("vgg19_caffe_q.bin"), last_layer="relu3_4")
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        mine = net.layers[:4](x)
        theirs = torch.nn.functional.max_pool2d(vgg(x, ("relu3_4",))["relu3_4"], 2)
    torch.testing.assert_close(mine, theirs)
