"""AUDetNet (seed 001): AU detection that disentangles expression (z1) from the rest (z2).

``build_from_cfg(path)`` reads a cfg file in the seed's language and returns the networks;
``check_outputs(nets, n_aus)`` checks that the AUPredictor gives one value per AU a run trains.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyfacs.au.audetnet.cfg import CfgError, CfgFile, check_sections, load_cfg, parse_cfg

__all__ = ["AUDetNetworks", "CfgError", "build_from_cfg", "check_outputs", "parse_cfg"]


@dataclass
class AUDetNetworks:
    encoder: object
    au_predictor: object
    decoder: object
    discriminator: object
    image_discriminator: object | None
    training: dict
    data: dict
    loss: dict
    z1_channels: int
    image_shape: tuple[int, int, int]


def check_outputs(nets, n_aus: int) -> None:
    """``CfgError`` (file:line of the AUPredictor block to change, both numbers) unless the AUPredictor
    outputs exactly ``n_aus`` values per image. ``nets``: an ``AUDetNetworks`` or the AUPredictor ``CfgNet``."""
    net = nets.au_predictor if isinstance(nets, AUDetNetworks) else nets
    shape = tuple(net.output_shape)
    if shape == (n_aus,):
        return
    lines, kinds = net.block_lines, net.kinds
    fc = max((i for i, k in enumerate(kinds) if k == "connected"), default=None)
    if len(shape) == 1 and fc is not None:
        line, fix = lines[fc], f"set its output_features={n_aus}"
        what = f"[connected] gives {shape[0]} AU outputs"
    else:
        line, fix = lines[-1], f"end it with a [connected] block with output_features={n_aus}"
        what = f"last block [{kinds[-1]}] gives outputs of shape {shape} per image"
    raise CfgError(f"{net.path}:{line}: {{AUPredictor}}'s {what}, but the run trains {n_aus} AUs; {fix}")


def build_from_cfg(path: str | Path | CfgFile, *, image_size: int = 64, n_aus: int | None = None) -> AUDetNetworks:
    """Encoder → z; z1 = z's first ``channels`` (the AUPredictor's [net] channels), z2 = the rest.
    AUPredictor(z1) → AUs; Decoder(z) → image; Discriminator(z1 ⊕ z2) → original vs shuffled pair;
    Image Discriminator(image) → real vs reconstructed (optional). With ``n_aus``, also
    ``check_outputs(nets, n_aus)``. Any cfg that cannot be built or trained is a ``CfgError``."""
    from pyfacs.au.audetnet.builder import CfgNet
    from pyfacs.nn import check_sizes

    check_sizes("build_from_cfg", image_size=image_size, **({"n_aus": n_aus} if n_aus is not None else {}))
    cfg = path if isinstance(path, CfgFile) else load_cfg(path)
    check_sections(cfg)
    general = cfg.sections["General"]
    opts = [b.options for b in general] + [{}] * (3 - len(general))

    def net(name: str, shape: tuple[int, ...]) -> CfgNet:
        blocks = cfg.sections[name]
        want = blocks[0].options.get("channels")
        if want is not None and want != shape[0]:
            raise CfgError(f"{cfg.path}:{blocks[0].lines.get('channels', blocks[0].line)}: {{{name}}} [net] "
                           f"channels={want}, but its input has {shape[0]} channels; set channels={shape[0]}")
        return CfgNet(blocks, shape, cfg.path, name)

    enc_blocks = cfg.sections["Encoder"]
    image_shape = (enc_blocks[0].options.get("channels", 3), image_size, image_size)
    if len(general) > 1:
        data = general[1]
        for key in ("mean", "std"):
            values = data.options.get(key)
            if values is not None and len(values) != image_shape[0]:
                raise CfgError(f"{cfg.path}:{data.lines[key]}: [{data.type}] {key} has {len(values)} value(s), but "
                               f"the images have {image_shape[0]} channel(s) ({{Encoder}} [net] channels); "
                               f"give {image_shape[0]} value(s)")
    encoder = net("Encoder", image_shape)
    z_shape = encoder.output_shape
    pred_net = cfg.sections["AUPredictor"][0]
    z1 = pred_net.options.get("channels", z_shape[0] // 2)
    if not 0 < z1 < z_shape[0]:
        raise CfgError(f"{cfg.path}:{pred_net.lines.get('channels', pred_net.line)}: {{AUPredictor}} [net] "
                       f"channels={z1} (z1) must lie inside the encoder's {z_shape[0]} output channels (z2 gets the "
                       f"rest); set it to 1..{z_shape[0] - 1}")
    au_predictor = net("AUPredictor", (z1, *z_shape[1:]))
    if len(au_predictor.output_shape) != 1:
        raise CfgError(f"{cfg.path}:{au_predictor.block_lines[-1]}: {{AUPredictor}}'s last block "
                       f"[{au_predictor.kinds[-1]}] gives outputs of shape {au_predictor.output_shape} per image, "
                       f"but it must give one value per AU; end it with a [connected] block with "
                       f"output_features=<number of AUs>")
    decoder = net("Decoder", z_shape)
    if decoder.output_shape != image_shape:
        raise CfgError(f"{cfg.path}:{decoder.block_lines[-1]}: the {{Decoder}} outputs {decoder.output_shape} per "
                       f"image, but the images are {image_shape}; change its last blocks so that they match")
    discriminator = net("Discriminator", z_shape)
    image_discriminator = net("Image Discriminator", image_shape) if "Image Discriminator" in cfg.sections else None
    logits = ["Discriminator", "Image Discriminator"]
    if (opts[2] or {}).get("au_regression_loss_function") != "MSE":  # (BCE on logits; MSE may end as it likes)
        logits.append("AUPredictor")
    for name in (n for n in logits if n in cfg.sections):
        last = cfg.sections[name][-1]
        if last.options.get("activation") == "sigmoid":
            raise CfgError(f"{cfg.path}:{last.lines.get('activation', last.line)}: {{{name}}}'s last block ends "
                           "in activation=sigmoid, but training applies its own sigmoid (or softmax) to these "
                           "outputs; end it with activation=linear")
    nets = AUDetNetworks(encoder, au_predictor, decoder, discriminator, image_discriminator,
                         opts[0], opts[1], opts[2], z1, image_shape)
    if n_aus is not None:
        check_outputs(nets, n_aus)
    return nets
