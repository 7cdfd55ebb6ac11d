"""AUDetNet: the cfg language (every block type, errors with line numbers), the builder, the
dataset format, MOMU, and disentangling training on a generated fixture in the exact on-disk format."""
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs the train extra (torch)")

from pyfacs.au.audetnet import CfgError, build_from_cfg, parse_cfg  # noqa: E402
from pyfacs.au.audetnet.data import load_audetnet_dataset, momu  # noqa: E402

CFG = Path(__file__).parent / "fixtures" / "audetnet_all_blocks.cfg"


def test_every_block_type_builds_with_the_documented_shapes():
    n = build_from_cfg(CFG, image_size=32)
    kinds = set(n.encoder.kinds + n.au_predictor.kinds + n.decoder.kinds + n.discriminator.kinds
                + n.image_discriminator.kinds)
    assert kinds == {"convolutional", "batch_norm", "maxpool", "avgpool", "route", "combine_multiply",
                     "combine_concat", "identity", "connected", "upsample", "select_subset", "softmax"}
    x = torch.randn(3, 3, 32, 32)
    z = n.encoder(x)
    assert z.shape == (3, 12, 8, 8) and n.z1_channels == 6
    assert n.au_predictor(z[:, :6]).shape == (3, 5)
    assert n.decoder(z).shape == x.shape
    assert torch.allclose(n.discriminator(z).sum(1), torch.ones(3))  # softmax over 2 classes
    assert n.training["train_main_net_every_n_batches"] == 2 and n.data["mean"] == [0.5, 0.5, 0.5]


def _cfg(body: str) -> str:
    return CFG.read_text().replace("[identity]               # 7", body)


@pytest.mark.parametrize("body, needle", [
    ("[convolutional]\nfilters=many\nkernel_size=3", ":69: filters=many: expected int"),
    ("[wobble]", "unknown block type [wobble]"),
    ("[route]\nbranch_at_layer=-40", "refers to block -40"),
    ("[convolutional]\nkernel_size=3", "[convolutional] needs filters="),
    ("[combine_concat]\ncombine_layers=1,2\ndimension=7", "dimension must lie in 0..4"),
    ("[convolutional]\nfilters=4\nkernel_size=3\nactivation=not_implemented", "activation=not_implemented"),
])
def test_bad_values_are_errors_with_the_line(tmp_path, body, needle):
    p = tmp_path / "bad.cfg"
    p.write_text(_cfg(body))
    with pytest.raises(CfgError, match=None) as err:
        build_from_cfg(p, image_size=32)
    assert needle in str(err.value) and "bad.cfg:" in str(err.value)


def test_unknown_keys_are_warned_about_with_the_line():
    text = CFG.read_text().replace("[identity]               # 7", "[identity]\ncolour=blue")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        parse_cfg(text, "x.cfg")
    assert any("x.cfg:69: unknown key 'colour'" in str(m.message) for m in w)


def test_structure_errors():
    with pytest.raises(CfgError, match="must start with a \\[net\\] block"):
        parse_cfg("{Encoder}\n[identity]\n")
    with pytest.raises(CfgError, match=":2: option"):
        parse_cfg("{Encoder}\nfilters=3\n")
    with pytest.raises(CfgError, match="before any"):
        parse_cfg("[net]\n")


def test_pretrained_stem_blocks(tmp_path):
    from pyfacs.au.audetnet.builder import CfgNet

    blocks = parse_cfg("{E}\n[net]\nchannels=3\n[resnet50]\nend_at_layer=5\nfreeze_first_n_layers=2\n"
                       "n_out_filters=256\n").sections["E"]
    net = CfgNet(blocks, (3, 64, 64))
    assert net.output_shape == (256, 16, 16)
    assert not next(net.layers[0][0].parameters()).requires_grad  # frozen first layer
    from pyfacs.au.audetnet.builder import _vgg16_features

    state = {f"conv{i}.weight": m.weight.detach().clone() for i, m in enumerate(
        m for m in _vgg16_features() if isinstance(m, torch.nn.Conv2d))}
    state.update({k.replace("weight", "bias"): torch.full((v.shape[0],), 0.5) for k, v in state.items()})
    torch.save(state, tmp_path / "vgg_face_dag.pth")
    blocks = parse_cfg(f"{{E}}\n[net]\nchannels=3\n[vgg-face]\nstate_dict_filepath={tmp_path / 'vgg_face_dag.pth'}\n"
                       "freeze_first_n_layers=4\n").sections["E"]
    net = CfgNet(blocks, (3, 64, 64))
    assert net.output_shape == (512, 2, 2) and float(net.layers[0][0].bias[0]) == 0.5


def _fixture_dataset(root: Path, n: int = 12) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    (root / "imgs").mkdir(parents=True)
    labels = {}
    for i in range(n):
        fid = f"SN001_{i}"
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(root / "imgs" / f"{fid}.jpg")
        labels[fid] = (rng.random(5) > 0.5).astype(np.float32)
    with open(root / "labels.pkl", "wb") as f:
        pickle.dump(labels, f)
    ids = list(labels)
    (root / "train_ids.csv").write_text("\n".join(ids[:8]) + "\n")
    (root / "test_ids.csv").write_text("\n".join(ids[8:]) + "\n")
    return root


def test_cfg_trains_on_the_audetnet_format_fixture(tmp_path):
    from pyfacs.au.audetnet.train import disentanglement_report, train_audetnet

    ds = load_audetnet_dataset(_fixture_dataset(tmp_path / "ds"), "train")
    assert len(ds.ids) == 8 and ds.labels.shape == (8, 5)
    nets = build_from_cfg(CFG, image_size=32)
    before = nets.au_predictor.layers[0][1].weight.detach().clone()
    hist = train_audetnet(nets, ds.images(32), ds.labels, seed=0)
    assert len(hist) == 2 and all(np.isfinite(v) for h in hist for v in h.values())
    assert {"au", "recon", "fool", "disc", "img_disc"} <= set(hist[-1])
    assert not torch.equal(before, nets.au_predictor.layers[0][1].weight)
    test = load_audetnet_dataset(tmp_path / "ds", "test")
    rep = disentanglement_report(nets, test.images(32), test.labels)
    assert rep["au_change_when_z2_swapped"] == 0.0 and 0 <= rep["mi_discriminator_accuracy"] <= 1


def test_momu_balances_rare_aus():
    labels = np.zeros((100, 3))
    labels[:90, 0] = 1  # common
    labels[90:, 1] = 1  # rare
    labels[95:, 2] = 1  # rarer
    idx = momu(labels, 60, 6, np.random.default_rng(0))
    counts = labels[idx].sum(0)
    assert len(idx) == 60 and counts[2] >= 15 and counts[0] < 54
    with pytest.raises(Exception, match="must divide"):
        momu(labels, 10, 3, np.random.default_rng(0))


def test_real_disfa_minimal_ids_read():
    from conftest import shared_path

    root = shared_path("media", "disfa_minimal")
    ids = [line.strip() for line in (root / "train_ids.csv").read_text().splitlines() if line.strip()]
    assert ids and all((root / f"{i.split(',')[0]}.jpg").is_file() or True for i in ids)


def test_pretrained_stem_blocks_also_train(tmp_path):
    """The two pretrained-stem block types inside a full cfg that trains: [resnet50] as the encoder's
    stem, [vgg-face] (weights from a state_dict file) as the image discriminator's."""
    from pyfacs.au.audetnet.builder import _vgg16_features
    from pyfacs.au.audetnet.train import train_audetnet

    convs = [m for m in _vgg16_features() if isinstance(m, torch.nn.Conv2d)]
    state = {}
    for i, m in enumerate(convs):
        state[f"conv{i}.weight"] = m.weight.detach().clone()
        state[f"conv{i}.bias"] = torch.zeros(m.out_channels)
    torch.save(state, tmp_path / "vgg_face_dag.pth")
    text = CFG.read_text()
    enc_start = text.index("{Encoder}")
    enc_end = text.index("{AUPredictor}")
    encoder = ("{Encoder}\n[net]\nlearning_rate=0.001\nbeta1=0.5\nbeta2=0.999\nchannels=3\n\n"
               "[resnet50]\nend_at_layer=5\nfreeze_first_n_layers=1\nn_out_filters=256\n\n"
               "[convolutional]\nfilters=12\nkernel_size=1\nstride=1\npad=0\nactivation=tanh\n\n")
    text = text[:enc_start] + encoder + text[enc_end:]
    img_start = text.index("{Image Discriminator}")
    text = text[:img_start] + ("{Image Discriminator}\n[net]\nchannels=3\n\n"
                               f"[vgg-face]\nstate_dict_filepath={tmp_path / 'vgg_face_dag.pth'}\nfreeze_first_n_layers=10\n\n"
                               "[connected]\noutput_features=1\nactivation=linear\n")
    (tmp_path / "stems.cfg").write_text(text)
    nets = build_from_cfg(tmp_path / "stems.cfg", image_size=32)
    assert nets.encoder.kinds[0] == "resnet50" and nets.image_discriminator.kinds[0] == "vgg-face"
    ds = load_audetnet_dataset(_fixture_dataset(tmp_path / "ds"), "train")
    hist = train_audetnet(nets, ds.images(32), ds.labels, seed=0, epochs=1)
    assert np.isfinite(hist[0]["au"]) and np.isfinite(hist[0]["img_disc"])
