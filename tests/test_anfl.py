"""ANFL / MEFARG: shapes, value ranges, gradients and the documented initialisations."""
import math

import pytest

torch = pytest.importorskip("torch", reason="needs the train extra (torch)")

from pyfacs.au.anfl import ANFL, GNN, MAIN_LABELS, MEFARG, SUB_LABELS, AUFeatureGenerator, FacialGraphGenerator  # noqa: E402


def test_label_set_is_27_main_plus_14_sides():
    assert len(MAIN_LABELS) == 27 and len(SUB_LABELS) == 14 and SUB_LABELS[:2] == ("LAU1", "RAU1")


def test_gnn_connects_each_node_to_its_top_k_and_learns():
    torch.manual_seed(0)
    g = GNN(16, n_nodes=6, n_neighbors=3)
    x = torch.randn(2, 6, 16, requires_grad=True)
    adj = g.adjacency(x)
    assert adj.shape == (2, 6, 6) and ((adj > 0).sum(-1) == 3).all()
    y = g(x)
    assert y.shape == x.shape and (y >= 0).all()
    y.sum().backward()
    assert g.U.weight.grad.abs().sum() > 0 and g.V.weight.grad.abs().sum() > 0 and x.grad is not None


def test_documented_initialisations():
    g = GNN(256, n_nodes=27)
    assert abs(g.U.weight.std().item() - math.sqrt(2 / 256)) < 0.01
    assert (g.bnv.weight == 1).all() and (g.bnv.bias == 0).all()
    f = FacialGraphGenerator(64)
    bound = math.sqrt(6 / (27 + 64))  # Glorot uniform
    assert f.main_sc.abs().max() <= bound and f.main_sc.std() > bound / 3


def test_feature_generator_pools_tokens():
    afg = AUFeatureGenerator(32, 5)
    assert afg(torch.randn(3, 7, 32)).shape == (3, 5, 32)
    assert afg(torch.randn(3, 32)).shape == (3, 5, 32)


def test_anfl_defaults_give_41_cosine_activations():
    out = ANFL(64)(torch.randn(4, 10, 64))
    assert out.shape == (4, 41) and out.min() >= 0 and out.max() <= 1 + 1e-5  # probabilities, as OpenGraphAU


def test_sub_nodes_need_opengraphau_layout():
    with pytest.raises(ValueError, match="sub nodes"):
        FacialGraphGenerator(32, n_main_nodes=10, n_sub_nodes=14)
    assert FacialGraphGenerator(32, n_main_nodes=10, n_sub_nodes=0)(torch.randn(2, 10, 32)).shape == (2, 10)


def test_mefarg_full_and_small():
    m = MEFARG(arch="resnet18", n_main_aus=10, n_sub_aus=0, in_chans=1, width=8, small_input=True)
    out = m(torch.randn(2, 1, 48, 48))
    assert out.shape == (2, 10)
    out.sum().backward()
    assert m.backbone.conv1.weight.grad is not None
    assert MEFARG(width=8)(torch.randn(2, 3, 112, 112)).shape == (2, 41)


def test_resnet_uses_torchvision_parameter_names():
    from pyfacs.nn.resnet import ResNet

    keys = set(ResNet("resnet18").state_dict())
    assert {"conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
            "fc.weight"} <= keys
    assert len(keys) == 122  # as torchvision's resnet18


def _opengraphau_style_state(n_main=27, n_sub=14, c=64):
    """A synthetic checkpoint with OpenGraphAU's key names and shapes (DataParallel prefix included)."""
    from pyfacs.nn.resnet import ResNet

    g = torch.Generator().manual_seed(0)
    sd = {f"module.backbone.{k}": v for k, v in ResNet("resnet18").state_dict().items() if not k.startswith("fc.")}
    sd["module.global_linear.fc.weight"] = torch.randn(c, 512, generator=g)
    sd["module.global_linear.fc.bias"] = torch.randn(c, generator=g)
    for name in ("weight", "bias", "running_mean"):
        sd[f"module.global_linear.bn.{name}"] = torch.rand(c, generator=g)
    sd["module.global_linear.bn.running_var"] = torch.rand(c, generator=g) + 0.5
    sd["module.global_linear.bn.num_batches_tracked"] = torch.tensor(7)
    for i in range(n_main):
        sd[f"module.head.main_class_linears.{i}.fc.weight"] = torch.randn(c, c, generator=g)
        sd[f"module.head.main_class_linears.{i}.fc.bias"] = torch.randn(c, generator=g)
        for name in ("weight", "bias", "running_mean"):
            sd[f"module.head.main_class_linears.{i}.bn.{name}"] = torch.rand(c, generator=g)
        sd[f"module.head.main_class_linears.{i}.bn.running_var"] = torch.rand(c, generator=g) + 0.5
        sd[f"module.head.main_class_linears.{i}.bn.num_batches_tracked"] = torch.tensor(7)
    for m in ("U", "V"):
        sd[f"module.head.gnn.{m}.weight"] = torch.randn(c, c, generator=g)
        sd[f"module.head.gnn.{m}.bias"] = torch.randn(c, generator=g)
    for name in ("weight", "bias", "running_mean"):
        sd[f"module.head.gnn.bnv.{name}"] = torch.rand(n_main, generator=g)
    sd["module.head.gnn.bnv.running_var"] = torch.rand(n_main, generator=g) + 0.5
    sd["module.head.gnn.bnv.num_batches_tracked"] = torch.tensor(7)
    sd["module.head.main_sc"] = torch.randn(n_main, c, generator=g)
    sd["module.head.sub_sc"] = torch.randn(n_sub, c, generator=g)
    return {"state_dict": sd}


def test_opengraphau_checkpoint_loads_with_key_mapping(tmp_path):
    from pyfacs.au.anfl import load_opengraphau_checkpoint

    ckpt = _opengraphau_style_state()
    torch.save(ckpt, tmp_path / "OpenGraphAU.pth")
    m = load_opengraphau_checkpoint(tmp_path / "OpenGraphAU.pth", arch="resnet18").eval()
    sd = ckpt["state_dict"]
    assert torch.equal(m.head.afg.fc.weight[64:128], sd["module.head.main_class_linears.1.fc.weight"])
    assert torch.equal(m.head.fgg.sub_sc, sd["module.head.sub_sc"])
    assert torch.equal(m.global_linear.bn.running_var, sd["module.global_linear.bn.running_var"])
    with torch.no_grad():
        out = m(torch.randn(1, 3, 112, 112))
    assert out.shape == (1, 41) and out.abs().max() <= 1 + 1e-5
    del sd["module.head.gnn.U.weight"]
    with pytest.raises(ValueError, match="missing"):
        load_opengraphau_checkpoint(ckpt, arch="resnet18")


def test_torchvision_named_weights_load():
    from pyfacs.nn.resnet import ResNet, load_backbone_weights

    src = ResNet("resnet18")
    state = {k: v for k, v in src.state_dict().items()}
    dst = load_backbone_weights(ResNet("resnet18", num_classes=7), state)
    assert torch.equal(dst.layer3[1].conv2.weight, src.layer3[1].conv2.weight)
    with pytest.raises(ValueError, match="do not fit"):
        load_backbone_weights(ResNet("resnet34"), state)


def test_sc_layers_follow_opengraphau():
    """OpenGraphAU's head: ReLU'd SC vectors (activations in [0, 1], its probabilities), and its
    L12/R12 pair reading AU11's node (its sub_list); pyfacs's training keeps signed cosines."""
    from pyfacs.au.anfl import MAIN_AUS

    torch.manual_seed(0)
    fgg = FacialGraphGenerator(64).eval()
    x = torch.randn(3, 27, 64)
    with torch.no_grad():
        out, f = fgg(x), torch.nn.functional.normalize(torch.relu(fgg.gnn(x)), dim=-1)

        def cos(node, sc):
            return (f[:, node] * torch.nn.functional.normalize(torch.relu(sc), dim=-1)).sum(-1)

        assert torch.allclose(out[:, 9], cos(9, fgg.main_sc[9]), atol=1e-6)  # AU12's own node
        assert torch.allclose(out[:, 27 + 10], cos(MAIN_AUS.index(11), fgg.sub_sc[10]), atol=1e-6)  # "L12"
        assert out.min() >= 0 and out.max() <= 1 + 1e-6
        signed = FacialGraphGenerator(64, nonnegative_sc=False).eval()(x)
    assert signed.min() < 0  # (a BCE logit after scaling)


@pytest.mark.parametrize("build, name", [
    (lambda: ANFL(0), "in_features"), (lambda: AUFeatureGenerator(8, 0), "out_features"),
    (lambda: GNN(-1, 27), "in_features"), (lambda: ANFL(8.5), "in_features"),
    (lambda: FacialGraphGenerator(8, 27, -1), "n_sub_nodes"), (lambda: MEFARG(width=0), "width"),
    (lambda: MEFARG(reduce_to=0), "reduce_to"),
])
def test_bad_sizes_are_named(build, name):
    with pytest.raises(ValueError, match=f"{name} must be a whole number"):
        build()


def test_mefarg_defaults_give_opengraphau_probabilities():
    torch.manual_seed(0)
    out = MEFARG(width=8).eval()(torch.randn(1, 3, 64, 64))
    assert out.min() >= 0 and out.max() <= 1  # (scale 10 had made them neither probabilities nor logits)
    assert MEFARG(width=8, nonnegative_sc=False).scale == 10.0
