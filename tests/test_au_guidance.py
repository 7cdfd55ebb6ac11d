"""AU heatmaps from landmarks + codebook, CAM methods, the cosine alignment loss and the measures."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the train extra (torch)")

from pyfacs.au.heatmaps import CODEBOOK, au_heatmap, expression_heatmap  # noqa: E402
from pyfacs.expression.cam import METHODS, activation_map, alignment_loss, interpretability  # noqa: E402


def _face_landmarks(astronaut):
    import pyfacs

    return pyfacs.Analyzer(au_model=None, expression_model=None).faces(astronaut, still=True)[0].lmk68


def test_heatmaps_sit_on_the_right_regions(astronaut):
    lmk = _face_landmarks(astronaut)
    happy = expression_heatmap(lmk, "happy", astronaut.shape[:2])
    y, x = np.unravel_index(happy.argmax(), happy.shape)
    mouth_y = lmk[48:68, 1].mean()
    assert happy.max() == pytest.approx(1.0) and y > lmk[36:48, 1].mean()  # below the eyes
    assert abs(y - mouth_y) < 40
    brows = au_heatmap(lmk, [1, 2], astronaut.shape[:2])
    assert np.unravel_index(brows.argmax(), brows.shape)[0] < lmk[36:48, 1].mean()
    assert expression_heatmap(lmk, "neutral", (10, 10)).sum() == 0 and set(CODEBOOK) >= {"happy", "sad"}


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean((2, 3)))


@pytest.mark.parametrize("method", METHODS)
def test_cam_methods_find_the_evidence(method):
    torch.manual_seed(0)
    m = _Tiny()
    with torch.no_grad():  # channel 0 detects bright pixels and votes for class 2
        m.conv.weight.zero_()
        m.conv.bias.zero_()
        m.conv.weight[0, 0, 1, 1] = 1.0
        m.fc.weight.zero_()
        m.fc.weight[2, 0] = 1.0
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, 2, 5] = 1.0
    cam = activation_map(m, m.conv, x, 2, method=method, fc=m.fc)
    assert cam.shape == (1, 8, 8) and cam.argmax() == 2 * 8 + 5


def test_alignment_loss_and_measures():
    h = torch.zeros(1, 8, 8)
    h[0, 2:4, 2:4] = 1
    assert float(alignment_loss(h.clone(), h)) == pytest.approx(0.0, abs=1e-6)
    far = torch.zeros(1, 8, 8)
    far[0, 6, 6] = 1
    assert float(alignment_loss(far, h)) == pytest.approx(1.0)
    assert float(alignment_loss(far, torch.zeros(1, 8, 8))) == 0.0  # neutral: no AU cue
    m = interpretability(h[0].numpy(), h[0].numpy(), top=0.05)  # 3 pixels, all inside the 4 hot ones
    assert m["cosine"] == pytest.approx(1.0) and m["top_in_au_regions"] == 1.0


def test_batched_class_heatmaps_match_the_numpy_ones(astronaut):
    from pyfacs.data.fer2013 import LABELS
    from pyfacs.expression.guidance import ClassHeatmaps

    lmk = _face_landmarks(astronaut)
    size = astronaut.shape[0]  # square image
    maps = ClassHeatmaps(LABELS, size, size=size)(torch.tensor(lmk, dtype=torch.float32)[None].repeat(len(LABELS), 1, 1),
                                                 torch.arange(len(LABELS)))
    for k, label in enumerate(LABELS):
        ref = expression_heatmap(lmk, label, (size, size))
        assert np.abs(maps[k].numpy() - ref).max() < 1e-3, label


@pytest.mark.parametrize("augment", ["affine", "shift-flip"])
def test_augmentation_moves_landmarks_with_the_face(augment):
    from pyfacs.train.augment import random_affine, shift_flip

    def run(seed):
        gen = torch.Generator().manual_seed(seed)
        if augment == "affine":
            return random_affine(x, gen, erase=0.0, points=pts)
        return shift_flip(x, gen, 4, points=pts)

    x = torch.zeros(16, 1, 48, 48)
    pts = torch.tensor([[[10.0, 30.0]]]).repeat(16, 1, 1)
    x[:, 0, 30, 10] = 1.0
    out, moved = run(3)
    for i in range(16):
        y, xx = np.unravel_index(out[i, 0].argmax().item(), (48, 48))
        assert abs(xx - moved[i, 0, 0].item()) <= 1.0 and abs(y - moved[i, 0, 1].item()) <= 1.0
    assert len({round(v, 3) for v in moved[:, 0, 0].tolist()}) > 2  # the draws did move the point
    again, _ = run(3)
    assert torch.equal(out, again)  # seeded: runs repeat


def test_guidance_loss_rewards_maps_on_the_au_regions():
    from pyfacs.expression.guidance import guidance_loss

    heat = torch.zeros(2, 12, 12)
    heat[:, 8:10, 3:9] = 1.0  # "mouth corners"
    on = heat[:, None].repeat(1, 3, 1, 1)
    off = torch.zeros_like(on)
    off[:, :, 1:3, 3:9] = 1.0
    assert float(guidance_loss(on, heat)) < 1e-5 < 0.9 < float(guidance_loss(off, heat))


def test_heatmaps_of_points_outside_the_image_and_of_missing_landmarks(astronaut):
    from pyfacs.expression.guidance import ClassHeatmaps

    lmk = _face_landmarks(astronaut)
    lmk = (lmk - lmk.min(0)) / (lmk.max(0) - lmk.min(0)).max() * 40 + 4  # the face in a 48x48 crop
    away = lmk + [60, 0]  # the AU points 20-30 px beyond the right edge
    from pyfacs.au.heatmaps import au_points

    first_x = min(x for au in CODEBOOK["happy"] for x, _ in au_points(lmk, au))
    near = lmk + [48 + 3 - first_x, 0]  # every AU point 3 px or more beyond the right edge
    assert expression_heatmap(near, "happy", (48, 48)).max() < 0.9  # (was scaled up to 1: a stripe on the edge)
    assert expression_heatmap(away, "happy", (48, 48)).max() < 0.01
    torch_map = ClassHeatmaps(["happy"], 48, size=48)(torch.tensor(near, dtype=torch.float32)[None], torch.tensor([0]))
    assert np.corrcoef(torch_map[0].numpy().ravel(), expression_heatmap(near, "happy", (48, 48)).ravel())[0, 1] > 0.99
    gone = lmk.copy()
    gone[48] = np.nan
    with pytest.raises(ValueError, match="landmarks must be finite"):
        expression_heatmap(gone, "happy", (48, 48))


def test_a_flat_map_has_no_top_pixels_and_maps_leave_the_model_as_it_was():
    from pyfacs.expression.esr import ESR

    heat = np.zeros((12, 12), np.float32)
    heat[7:9] = 1
    assert all(np.isnan(v) for v in interpretability(np.zeros((12, 12), np.float32), heat).values())  # (0, nan, 0.93)
    torch.manual_seed(0)
    model = ESR(1, width=4).train()
    before = model.base.net[0][1].running_mean.clone()
    x = torch.rand(2, 1, 48, 48) - 0.5
    with torch.no_grad():  # (a map needs gradients: taken here whatever the caller's mode)
        m = activation_map(model, model.branches[0].net[-2], x, 3, score_fn=lambda out: out[0][:, 0])
    assert m.shape[0] == 2 and torch.equal(model.base.net[0][1].running_mean, before) and model.training
    with pytest.raises(ValueError, match="target must be a class index 0-6, not 99"):
        activation_map(model, model.branches[0].net[-2], x, 99, score_fn=lambda out: out[0][:, 0])
    with pytest.raises(ValueError, match="layer= is not run by the model"):
        activation_map(model, torch.nn.Conv2d(1, 1, 1), x, 3, score_fn=lambda out: out[0][:, 0])


def test_interpretability_of_images_without_au_cues_is_not_a_number():
    from pyfacs.data.fer2013 import LABELS
    from pyfacs.expression.esr import ESR
    from pyfacs.train.expression import cam_interpretability

    lmk = np.tile(np.linspace(10, 38, 68)[:, None], (2, 1, 2)).astype(np.float32)
    got = cam_interpretability(ESR(2, width=2), np.zeros((2, 48, 48), np.uint8), np.array([6, 6]), lmk, LABELS)
    assert got["n_images"] == 0 and np.isnan(got["cosine"])  # (neutral only: was an IndexError)
