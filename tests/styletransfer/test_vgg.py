"""The VGG19 trunk against torchvision's own VGG19, and the real Caffe weight file."""

import pytest
import torch
import torchvision
from PIL import Image

from styletransfer.engine import StyleConfig, stylize
from styletransfer.vgg import BLOCK_DEPTHS, LAYER_NAMES, VGGFeatures, load_vgg19


def test_torchvision_weights_give_torchvision_activations(tmp_path):
    torch.manual_seed(0)
    reference = torchvision.models.vgg19(weights=None).features.eval()
    path = tmp_path / "vgg19.pth"
    torch.save({f"features.{k}": v for k, v in reference.state_dict().items()}, path)
    net = load_vgg19(path, "relu4_2")
    rgb = torch.rand(1, 3, 32, 32)
    normalised = (rgb - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor(
        [0.229, 0.224, 0.225]
    ).view(1, 3, 1, 1)
    # torchvision's `features` indices of the ReLUs we read (conv, relu, ..., pool per block)
    relu_at = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 20, "relu4_2": 22}
    with torch.no_grad():
        ours = net(rgb, tuple(relu_at))
        x, theirs = normalised, {}
        for index, module in enumerate(reference[:23]):
            x = module(x)
            theirs.update({name: x.clone() for name, at in relu_at.items() if at == index})
    for name in relu_at:
        assert torch.allclose(ours[name], theirs[name], atol=1e-5), name


def test_palette_file_is_decoded_as_table_lookup(tmp_path):
    torch.manual_seed(0)
    state, channels = {}, 3
    names = [f"block{b + 1}_conv{i + 1}" for b, d in enumerate(BLOCK_DEPTHS) for i in range(d)]
    widths = [64] * 2 + [128] * 2 + [256] * 4 + [512] * 8
    for name, width in zip(names[:3], widths, strict=False):
        state[f"{name}_W_q"] = torch.randint(0, 256, (width, channels, 3, 3), dtype=torch.uint8)
        state[f"{name}_W_table"] = torch.randn(256)
        state[f"{name}_b"] = torch.randn(width)
        channels = width
    path = tmp_path / "q.bin"
    torch.save(state, path)
    net = load_vgg19(path, "relu2_1")
    assert len(net.convs) == 3 and net.last_layer == "relu2_1"
    first = net.convs[0].weight
    assert torch.equal(first, state["block1_conv1_W_table"][state["block1_conv1_W_q"].long()])


def test_network_is_cut_after_the_deepest_layer():
    assert len(VGGFeatures("relu4_2").convs) == LAYER_NAMES.index("relu4_2") + 1
    with pytest.raises(ValueError, match="stops at relu1_2"):
        VGGFeatures("relu1_2", widths=(4, 4, 4, 4, 4))(torch.rand(1, 3, 16, 16), ("relu2_1",))


@pytest.fixture(scope="module")
def caffe_vgg() -> VGGFeatures:
    from webapp.modelfiles import ModelFileError, model_path

    try:
        return load_vgg19(model_path("vgg19_caffe_q.bin"), "relu5_1")
    except ModelFileError as exc:
        pytest.skip(str(exc))


@pytest.mark.weights
def test_caffe_file_decodes_into_vgg19_shapes(caffe_vgg):
    widths = [conv.out_channels for conv in caffe_vgg.convs]
    assert widths == [64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512]
    with torch.no_grad():
        features = caffe_vgg(torch.rand(1, 3, 32, 32), ("relu1_1", "relu5_1"))
    assert features["relu5_1"].shape == (1, 512, 2, 2)
    assert torch.isfinite(features["relu5_1"]).all()


@pytest.mark.weights
def test_real_vgg_style_transfer_moves_towards_the_painting(caffe_vgg):
    photo = Image.linear_gradient("L").resize((48, 48)).convert("RGB")
    painting = Image.effect_mandelbrot((48, 48), (-2, -1.5, 1, 1.5), 50).convert("RGB")
    config = StyleConfig(size=48, levels=1, steps=20, device="cpu")
    result = stylize(photo, [painting], config, net=caffe_vgg)
    assert result.losses[-1]["total"] < result.losses[0]["total"]
    assert result.losses[-1]["style"] < 0.8 * result.losses[0]["style"]
    assert result.image.size == (48, 48)
