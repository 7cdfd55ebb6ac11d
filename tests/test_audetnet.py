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


# block 7 of the fixture's {Encoder} (line 68) gets (N, 16, 8, 8); block 0 gave (N, 8, 16, 16)
@pytest.mark.parametrize("body, needle", [
    ("[convolutional]\nfilters=many\nkernel_size=3", ":69: [convolutional] filters=many: expected an integer"),
    ("[wobble]", "unknown block type [wobble]"),
    ("[convolutinal]", "unknown block type [convolutinal] (did you mean [convolutional]?)"),
    ("[route]\nbranch_at_layer=-40", "refers to block -40"),
    ("[convolutional]\nkernel_size=3", "[convolutional] needs filters="),
    ("[combine_concat]\ncombine_layers=1,2\ndimension=7",
     ":68: [combine_concat] in {Encoder} dimension=7 is out of range for block 1 (N, 8, 16, 16): use 1..3"),
    ("[convolutional]\nfilters=4\nkernel_size=3\nactivation=not_implemented",
     "activation=not_implemented: not implemented in pyfacs"),
    # values outside their range: at parse time
    ("[convolutional]\nfilters=0\nkernel_size=3", ":69: [convolutional] filters=0: expected an integer >= 1"),
    ("[convolutional]\nfilters=4\nkernel_size=0", ":70: [convolutional] kernel_size=0: expected an integer >= 1"),
    ("[convolutional]\nfilters=4\nkernel_size=3\nstride=-1", ":71: [convolutional] stride=-1: expected an integer"),
    ("[batch_norm]\nnum_features=16\neps=0", ":70: [batch_norm] eps=0: expected a number > 0"),
    ("[select_subset]\norigin_layer=-1\nstart_index=3\nend_index=3", "end_index=3 must be larger than start_index=3"),
    # blocks that do not fit the shapes they get: in the trial forward pass, naming block, section and shapes
    ("[maxpool]\npool_size=9", ":68: [maxpool] in {Encoder} pool_size=9 is larger than its input (N, 16, 8, 8)"),
    ("[convolutional]\nfilters=4\nkernel_size=20",
     ":68: [convolutional] in {Encoder} fails on its input (N, 16, 8, 8): "),
    ("[combine_concat]\ncombine_layers=0,-1",
     ":68: [combine_concat] in {Encoder} fails on blocks 0 (N, 8, 16, 16), 6 (N, 16, 8, 8): "),
    ("[combine_multiply]\ncombine_layers=0,-1",
     ":68: [combine_multiply] in {Encoder} fails on blocks 0 (N, 8, 16, 16), 6 (N, 16, 8, 8): "),
    ("[softmax]\ndim=4", ":68: [softmax] in {Encoder} dim=4 is out of range for its input (N, 16, 8, 8): use 1..3"),
    ("[softmax]\ndim=0", "dim=0 is out of range"),
    ("[select_subset]\norigin_layer=-1\ndimension=5\nstart_index=0\nend_index=2",
     ":68: [select_subset] in {Encoder} dimension=5 is out of range"),
    ("[upsample]\noutput_sizes=4,4,4", "output_sizes has 3 values, but its input (N, 16, 8, 8) has 2 spatial"),
    ("[upsample]\nmode=linear", "mode=linear does not work on its input (N, 16, 8, 8)"),
    ("[connected]\noutput_features=4\n\n[maxpool]\npool_size=2", "[maxpool] in {Encoder} needs an image-shaped input"),
    ("[convolutional] filters=3", ":68: expected key=value, a [block] or a {Section} (each on its own line)"),
])
def test_bad_values_are_errors_with_the_line(tmp_path, body, needle):
    p = tmp_path / "bad.cfg"
    p.write_text(_cfg(body))
    with pytest.raises(CfgError, match=None) as err:
        build_from_cfg(p, image_size=32)
    assert needle in str(err.value) and "bad.cfg:" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("old, new, needle", [
    # choices pyfacs does not implement: rejected when parsed, not after a fold of training
    ("au_regression_loss_function=BCEWithLogits", "au_regression_loss_function=MSE",
     ":22: [loss_options] au_regression_loss_function=MSE: not implemented in pyfacs (AU intensity regression); "
     "implemented: BCEWithLogits"),
    ("regress_au_intensities=False", "regress_au_intensities=True", ":14: [data_options] regress_au_intensities=True: "
                                                                    "not implemented"),
    # values that cannot train
    ("batch_size=4", "batch_size=1", ":6: [training_options] batch_size=1: expected an integer >= 2"),
    ("train_main_net_every_n_batches=2", "train_main_net_every_n_batches=0",
     ":9: [training_options] train_main_net_every_n_batches=0: expected an integer >= 1"),
    ("std=0.5,0.5,0.5", "std=0.5,0,0.5", ":19: [data_options] std=0.5,0,0.5: expected comma-separated numbers > 0"),
    ("sampling_size=4", "sampling_size=3", ":17: [data_options] sampling_size=3 must divide epoch_size=8"),
    ("mean=0.5,0.5,0.5", "mean=0.5", ":18: [data_options] mean has 1 value(s), but the images have 3 channel(s)"),
    # {General}'s blocks are read by position: a missing header or a wrong order says so
    ("[loss_options]\n", "", ":21: au_regression_loss_function is a [loss_options] option, but it stands in "
                             "{General}'s block 2, read as [data_options]: is the [loss_options] header missing?"),
    ("[training_options]  # name does not matter, position does", "[loss_options]",
     ":5: [loss_options] is block 1 of {General}, which is read as [training_options]"),
    # sections
    ("{Image Discriminator}", "{Image Discrimnator}",
     "unknown section {Image Discrimnator} (did you mean {Image Discriminator}?); the sections are {General}"),
    ("channels=6\n\n[connected]\noutput_features=16", "channels=6\n\n{Extra}\n[net]\n\n[connected]\n"
                                                       "output_features=16", "unknown section {Extra}"),
    ("channels=6", "channels=12", ":83: {AUPredictor} [net] channels=12 (z1) must lie inside the encoder's 12"),
    ("[connected]\noutput_features=16\nactivation=relu\nuse_bias=True\ninitialization=kaiming_uniform\n\n"
     "[connected]\noutput_features=5\nactivation=linear\nuse_bias=True\n", "[convolutional]\nfilters=5\nkernel_size=1\n",
     ":85: {AUPredictor}'s last block [convolutional] gives outputs of shape (5, 8, 8) per image, but it must give one "
     "value per AU"),
])
def test_bad_options_are_errors_with_the_line(tmp_path, old, new, needle):
    text = CFG.read_text()
    assert old in text
    p = tmp_path / "bad.cfg"
    p.write_text(text.replace(old, new, 1))
    with pytest.raises(CfgError) as err:
        build_from_cfg(p, image_size=32)
    assert needle in str(err.value) and "bad.cfg:" in str(err.value)


def test_empty_sections_are_errors(tmp_path):
    text = CFG.read_text()
    start, end = text.index("{Discriminator}"), text.index("{Image Discriminator}")
    (tmp_path / "a.cfg").write_text(text[:start] + "{Discriminator}\n\n" + text[end:])
    with pytest.raises(CfgError, match=r"a\.cfg:125: \{Discriminator\} has no blocks"):
        build_from_cfg(tmp_path / "a.cfg", image_size=32)
    (tmp_path / "b.cfg").write_text(text[:start] + "{Discriminator}\n[net]\nchannels=12\n\n" + text[end:])
    with pytest.raises(CfgError, match=r"b\.cfg:126: \{Discriminator\} has a \[net\] block but no layers"):
        build_from_cfg(tmp_path / "b.cfg", image_size=32)


def test_au_outputs_are_checked_against_the_aus_trained(tmp_path):
    from pyfacs.au.audetnet import check_outputs
    from pyfacs.au.audetnet.train import train_audetnet

    nets = build_from_cfg(CFG, image_size=32)
    check_outputs(nets, 5)
    check_outputs(nets.au_predictor, 5)
    msg = ":91: {AUPredictor}'s [connected] gives 5 AU outputs, but the run trains 4 AUs; set its output_features=4"
    with pytest.raises(CfgError) as err:
        check_outputs(nets, 4)
    assert str(err.value).endswith(msg) and str(err.value).startswith(str(CFG))
    with pytest.raises(CfgError, match="the run trains 10 AUs"):
        build_from_cfg(CFG, image_size=32, n_aus=10)
    before = nets.au_predictor.layers[0][1].weight.detach().clone()
    with pytest.raises(CfgError, match="the run trains 4 AUs"):  # before any training
        train_audetnet(nets, np.zeros((8, 3, 32, 32), np.float32), np.zeros((8, 4), np.float32))
    assert torch.equal(before, nets.au_predictor.layers[0][1].weight)


def test_unknown_keys_are_logged_in_one_line(caplog):
    text = CFG.read_text().replace("[identity]               # 7", "[identity]\ncolour=blue\n\n[convolutional]\n"
                                   "filters=16\nkernal_size=1\nkernel_size=1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warnings.warn
        with caplog.at_level("WARNING", logger="pyfacs.au.audetnet"):
            parse_cfg(text, "x.cfg")
    msgs = [r.getMessage() for r in caplog.records]
    assert "x.cfg:69: unknown key 'colour' in [identity] ignored; it takes no keys" in msgs
    assert "x.cfg:73: unknown key 'kernal_size' in [convolutional] ignored (did you mean kernel_size?)" in msgs
    assert len(msgs) == 2 and all("\n" not in m for m in msgs)


def test_structure_errors():
    with pytest.raises(CfgError, match="must start with a \\[net\\] block"):
        parse_cfg("{Encoder}\n[identity]\n")
    with pytest.raises(CfgError, match=":2: option"):
        parse_cfg("{Encoder}\nfilters=3\n")
    with pytest.raises(CfgError, match="before any"):
        parse_cfg("[net]\n")


def test_resnet50_says_it_starts_from_random_weights(caplog):
    from pyfacs.au.audetnet.builder import CfgNet

    blocks = parse_cfg("{E}\n[net]\nchannels=3\n[resnet50]\nend_at_layer=4\nfreeze_first_n_layers=2\n",
                       "r.cfg").sections["E"]
    with caplog.at_level("WARNING", logger="pyfacs.au.audetnet"):
        CfgNet(blocks, (3, 32, 32), "r.cfg")
    msgs = [r.getMessage() for r in caplog.records]
    assert msgs == ["r.cfg:4: [resnet50] starts from random weights (no pretrained ResNet-50 weights are loaded); "
                    "its 2 frozen first layers stay random"]


def test_pretrained_stem_blocks(tmp_path):
    from pyfacs.au.audetnet.builder import CfgNet

    blocks = parse_cfg("{E}\n[net]\nchannels=3\n[resnet50]\nend_at_layer=5\nfreeze_first_n_layers=2\n"
                       "n_out_filters=256\n").sections["E"]
    net = CfgNet(blocks, (3, 64, 64))
    assert net.output_shape == (256, 16, 16)
    assert not next(net.layers[0][0].parameters()).requires_grad  # frozen first layer
    blocks = parse_cfg("{E}\n[net]\nchannels=3\n[resnet50]\nend_at_layer=5\nn_out_filters=999\n", "r.cfg").sections["E"]
    with pytest.raises(CfgError, match=r"r\.cfg:4: \[resnet50\] in \{Encoder\} n_out_filters=999, but the block "
                                       r"outputs 256 channels.*; set n_out_filters=256"):
        CfgNet(blocks, (3, 64, 64), "r.cfg", "Encoder")
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
    assert all(0 <= rep[f"probe_balanced_accuracy_{z}"] <= 1 or np.isnan(rep[f"probe_balanced_accuracy_{z}"])
               for z in ("z1", "z2"))


def test_logged_losses_are_means_over_the_batches_that_computed_them(tmp_path, monkeypatch):
    import torch.nn.functional as F

    from pyfacs.au.audetnet.train import train_audetnet

    ds = load_audetnet_dataset(_fixture_dataset(tmp_path / "ds"), "train")
    nets = build_from_cfg(CFG, image_size=32)  # batch_size 4 on 8 images; main networks every 2nd batch
    for name in ("binary_cross_entropy_with_logits", "mse_loss"):  # an AU loss of exactly 1 each time
        monkeypatch.setattr(F, name, lambda p, y: p.sum() * 0 + 1.0)
    hist = train_audetnet(nets, ds.images(32), ds.labels, seed=0)
    assert [h["au"] for h in hist] == [1.0, 1.0]  # (not halved by the batches that skip the main networks)


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


def test_pretrained_stem_blocks_also_train(tmp_path, monkeypatch):
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
                               "[vgg-face]\nstate_dict_filepath=vgg_face_dag.pth\nfreeze_first_n_layers=10\n\n"
                               "[connected]\noutput_features=1\nactivation=linear\n")
    (tmp_path / "stems.cfg").write_text(text)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # a relative state_dict_filepath lies beside the cfg, wherever we run
    nets = build_from_cfg(tmp_path / "stems.cfg", image_size=32)
    assert nets.encoder.kinds[0] == "resnet50" and nets.image_discriminator.kinds[0] == "vgg-face"
    ds = load_audetnet_dataset(_fixture_dataset(tmp_path / "ds"), "train")
    hist = train_audetnet(nets, ds.images(32), ds.labels, seed=0, epochs=1)
    assert np.isfinite(hist[0]["au"]) and np.isfinite(hist[0]["img_disc"])


def test_a_misspelt_section_is_named_before_its_blocks_are_read(tmp_path):
    p = tmp_path / "bad.cfg"
    p.write_text(CFG.read_text().replace("{General}", "{general}"))
    with pytest.raises(CfgError, match=r"\[training_options\] belongs in \{General\}, not in \{general\} "
                                       r"\(did you mean \{General\}\?\)"):
        build_from_cfg(p)
    with pytest.raises(ValueError, match="build_from_cfg: image_size must be a whole number of at least 1, not 0"):
        build_from_cfg(CFG, image_size=0)


def test_a_linear_decay_window_longer_than_the_run_starts_at_the_full_rate():
    from pyfacs.au.audetnet.train import linear_decay

    assert [linear_decay(30, 10)(e) for e in (0, 19, 20, 29)] == [1.0, 1.0, 10 / 11, 1 / 11]  # (the recipe's)
    assert [linear_decay(2, 10)(e) for e in (0, 1)] == [1.0, 0.5]  # (was 2/11 and 1/11: the smoke config)


def test_a_damaged_label_dict_is_one_line(tmp_path):
    from pyfacs.errors import InputError

    root = _fixture_dataset(tmp_path / "ds", n=10)
    with open(root / "labels.pkl", "rb") as f:
        labels = pickle.load(f)
    for content, match in ((b"not a pickle", "cannot be read as a pickled label dict"),
                           (pickle.dumps(list(labels.values())), "holds a list, not a dict"),
                           (pickle.dumps({**labels, "SN001_3": np.zeros(4)}), "id SN001_3 has .* not 5 AU values")):
        (root / "labels.pkl").write_bytes(content)
        with pytest.raises(InputError, match=match):
            load_audetnet_dataset(root, "train")
    (root / "labels.pkl").write_bytes(pickle.dumps(labels))
    (root / "old.pkl").write_bytes(pickle.dumps({}))  # which one? not the first in sorted order, silently
    with pytest.raises(InputError, match="holds 2 pickled files"):
        load_audetnet_dataset(root, "train")


def test_a_cfg_that_would_train_wrongly_is_refused(tmp_path):
    """A final sigmoid under the trainer's own sigmoid; a run too short for the main networks' turn."""
    from pyfacs.au.audetnet.train import train_audetnet
    from pyfacs.errors import InputError

    text = CFG.read_text()
    ending = "[connected]\noutput_features=2\nactivation=linear\n\n[softmax]\ndim=1\n"  # the Discriminator's
    assert text.count(ending) == 1
    (tmp_path / "sig.cfg").write_text(text.replace(ending, "[connected]\noutput_features=1\nactivation=sigmoid\n"))
    with pytest.raises(CfgError, match=r"sig\.cfg:\d+: \{Discriminator\}'s last block ends in activation=sigmoid"):
        build_from_cfg(tmp_path / "sig.cfg", image_size=32)
    nets = build_from_cfg(CFG, image_size=32)
    nets.training["train_main_net_every_n_batches"] = 4
    ds = load_audetnet_dataset(_fixture_dataset(tmp_path / "ds"), "train")  # 8 images
    nets.training["batch_size"] = 4  # 2 batches an epoch, 1 epoch: the 4th batch never comes
    with pytest.raises(InputError, match="would never train"):
        train_audetnet(nets, ds.images(32), ds.labels, seed=0, epochs=1)
    assert len(train_audetnet(nets, ds.images(32), ds.labels, seed=0, epochs=2)) == 2  # the 4th batch comes
    nets.data["balance_dataset_with_momu"] = False  # (MOMU would draw full batches from one image)
    with pytest.raises(InputError, match="1 training image"):  # (no batch at all: more images, not a lower n)
        train_audetnet(nets, ds.images(32)[:1], ds.labels[:1], seed=0, epochs=2)
