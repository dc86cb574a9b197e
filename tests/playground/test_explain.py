"""Looking inside a net: Grad-CAM against a hand computation, saliency, the patches that
drive a unit, activation maximisation, the confusion-matrix drill-down."""

import numpy as np
import pytest
import torch
from torch import nn

from playground.explain.engine import (
    ExplainError,
    confusion_cell,
    grad_cam,
    layer_forward,
    maximize_unit,
    overlay_png,
    top_patches,
)


def tiny_net(seed=0) -> nn.Sequential:
    """conv 3×3 (1 -> 2 channels) -> ReLU -> flatten -> linear to 3 classes, on 5×5."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 3 * 3, 3))


def by_hand(net: nn.Sequential, picture: np.ndarray, target: int) -> np.ndarray:
    """Grad-CAM at the ReLU's output, written out with loops over plain numbers."""
    w = net[0].weight.detach().numpy()  # (2, 1, 3, 3)
    b = net[0].bias.detach().numpy()
    lin = net[3].weight.detach().numpy()  # (3, 18)
    a = np.zeros((2, 3, 3))
    for k in range(2):
        for i in range(3):
            for j in range(3):
                a[k, i, j] = max(0.0, float((w[k, 0] * picture[i : i + 3, j : j + 3]).sum() + b[k]))
    # the score is linear in A: d score / d A[k, i, j] is the linear weight of that position
    grad = lin[target].reshape(2, 3, 3)
    alpha = grad.mean(axis=(1, 2))
    cam = np.maximum(0.0, (alpha[:, None, None] * a).sum(0))  # (3, 3)
    return cam


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grad_cam_matches_a_hand_computation_on_a_tiny_net(seed):
    net = tiny_net(seed)
    picture = torch.rand(1, 5, 5, generator=torch.Generator().manual_seed(seed))
    for target in range(3):
        expected = by_hand(net, picture[0].double().numpy(), target)
        explanation = grad_cam(net, picture, target=target, layer="1")  # the ReLU's output
        # the same map before upsampling: compare at the layer's own 3×3 resolution
        ours = grad_cam_raw(net, picture, target)
        np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-6)
        assert explanation.target == target and explanation.layer == "1"
        assert explanation.cam.shape == (5, 5)
        if expected.max() > 0:
            assert explanation.cam.max() == pytest.approx(1.0)  # scaled to [0, 1]
            # the upsampled map keeps the hand map's brightest corner
            corner = np.unravel_index(expected.argmax(), expected.shape)
            assert explanation.cam[1 + corner[0], 1 + corner[1]] > 0.5


def grad_cam_raw(net, picture, target):
    """grad_cam's map before upsampling and scaling, via the same code with the upsampling
    made the identity (an input the size of the layer's map)."""
    from playground.explain.engine import _Capture

    x = picture[None].clone().requires_grad_(True)
    with _Capture(net[1]) as capture:
        net(x)[0, target].backward()
        a, g = capture.output, capture.output.grad
    return torch.relu((g.mean((2, 3), keepdim=True) * a).sum(1))[0].detach().double().numpy()


def test_default_class_is_the_predicted_one_and_the_default_layer_the_deepest_map():
    net = tiny_net()
    picture = torch.rand(1, 5, 5)
    explanation = grad_cam(net, picture)
    assert explanation.target == explanation.predicted == int(net(picture[None]).argmax())
    assert explanation.layer == "1" and len(explanation.probabilities) == 3
    assert sum(explanation.probabilities) == pytest.approx(1.0)


def test_unknown_class_or_layer_is_refused_by_name():
    net = tiny_net()
    with pytest.raises(ExplainError, match="class 7 does not exist"):
        grad_cam(net, torch.rand(1, 5, 5), target=7)
    with pytest.raises(ExplainError, match="no layer 'nope'.*0, 1"):
        grad_cam(net, torch.rand(1, 5, 5), layer="nope")


def test_saliency_of_a_linear_net_is_its_weights_magnitude():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 1, 1), nn.Flatten(), nn.Linear(16, 2))
    explanation = grad_cam(net, torch.rand(2, 4, 4), target=1)
    conv = net[0].weight.detach()[0, :, 0, 0]  # (2,) per input channel
    lin = net[2].weight.detach()[1].view(4, 4)
    grads = (conv[:, None, None] * lin).abs().amax(0)  # d score / d pixel, largest channel
    np.testing.assert_allclose(explanation.saliency, (grads / grads.max()).numpy(), rtol=1e-5)
    png = overlay_png(torch.rand(2, 4, 4), explanation.cam, scale=4)
    assert png.startswith(b"\x89PNG")


def bright_spot_net() -> nn.Sequential:
    """Channel 0 sums a 3×3 neighbourhood: it fires where the picture is brightest."""
    conv = nn.Conv2d(1, 2, 3)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0] = 1.0
        conv.bias.zero_()
    return nn.Sequential(conv, nn.ReLU(), nn.Flatten(), nn.Linear(2 * 6 * 6, 2))


def test_top_patches_are_the_brightest_pictures_cropped_to_the_receptive_field():
    net = bright_spot_net()
    pictures = torch.zeros(6, 1, 8, 8)
    for i in range(6):
        pictures[i, 0, 1 + i % 5, 2] = 0.1 * (i + 1)  # picture i's spot, brighter with i
    patches = top_patches(net, pictures, layer="1", channel=0, count=3)
    assert [p.index for p in patches] == [5, 4, 3]
    assert patches[0].activation == pytest.approx(0.6)
    for patch in patches:
        top, left, bottom, right = patch.box
        assert (bottom - top, right - left) == (3, 3)  # a 3×3 conv sees 3×3 pixels
        spot = (1 + patch.index % 5, 2)
        assert top <= spot[0] < bottom and left <= spot[1] < right
        assert patch.picture.shape == (3, 3, 3)
    with pytest.raises(ExplainError, match="channels 0..1"):
        top_patches(net, pictures, layer="1", channel=5)


def test_activation_maximisation_raises_the_unit_and_is_smooth():
    net = bright_spot_net()
    forward = layer_forward(net, "1", (1, 8, 8))  # the net's size; optimised at 32
    picture, trace = maximize_unit(forward, 0, size=32, channels=1, steps=40, lr=0.1)
    assert picture.shape == (32, 32, 3) and picture.dtype == np.uint8
    assert trace[-1] > trace[0] + 1.0  # channel 0 wants bright pixels: it found them
    assert picture.mean() > 150


def test_confusion_cell_lists_that_pair_most_confident_first():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 16, 3)
    )
    pictures = torch.rand(40, 1, 4, 4)
    labels = torch.arange(40) % 3
    with torch.no_grad():
        probs = net(pictures).softmax(1)
    confidence, guess = probs.max(1)
    true, predicted = int(labels[0]), int(guess[0])
    items = confusion_cell(net, pictures, labels, true, predicted, limit=40)
    expected = ((labels == true) & (guess == predicted)).nonzero().flatten().tolist()
    assert sorted(i.index for i in items) == sorted(expected)
    values = [i.confidence for i in items]
    assert values == sorted(values, reverse=True)
    assert all(i.explanation.target == predicted for i in items)
    firsts = confusion_cell(net, pictures, labels, true, predicted, limit=2)
    assert [i.index for i in firsts] == [i.index for i in items[:2]]


def test_results_name_layers_as_the_forms_do():
    """ "layers.5" on a result where the run page's form says "layer 5: avgpool" (issue 23)."""
    from playground.explain.engine import layer_label
    from playground.netspec import build
    from playground.presets import preset

    model = build(preset("lenet5", (1, 8, 8)), (1, 32, 32), 10)
    assert layer_label(model, "layers.3") == "layer 3: conv2d"
    assert layer_label(model, "layers.5") == "layer 5: avgpool"
    assert layer_label(model, "layers.3.weight") == "layer 3: conv2d (weight)"
    assert layer_label(model, "head") == "the classifier"
    assert layer_label(model, "layers.99") == "layers.99"  # not in the spec: as it was
    assert layer_label(model, None) is None
