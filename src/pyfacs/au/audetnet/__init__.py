"""AUDetNet (seed 001): AU detection that disentangles expression (z1) from the rest (z2).

``build_from_cfg(path)`` reads a cfg file in the seed's language and returns the networks.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyfacs.au.audetnet.cfg import CfgError, CfgFile, load_cfg, parse_cfg

__all__ = ["AUDetNetworks", "CfgError", "build_from_cfg", "parse_cfg"]


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


def build_from_cfg(path: str | Path | CfgFile, *, image_size: int = 64) -> AUDetNetworks:
    """Encoder → z; z1 = z's first ``channels`` (the AUPredictor's [net] channels), z2 = the rest.
    AUPredictor(z1) → AUs; Decoder(z) → image; Discriminator(z1 ⊕ z2) → original vs shuffled pair;
    Image Discriminator(image) → real vs reconstructed (optional)."""
    from pyfacs.au.audetnet.builder import CfgNet

    cfg = path if isinstance(path, CfgFile) else load_cfg(path)
    general = cfg.sections["General"]
    opts = [b.options for b in general] + [{}] * (3 - len(general))

    def net(name: str, shape: tuple[int, ...]) -> CfgNet:
        blocks = cfg.sections[name]
        want = blocks[0].options.get("channels")
        if want is not None and want != shape[0]:
            raise CfgError(f"{cfg.path}:{blocks[0].line}: {{{name}}} [net] channels={want}, but its input has "
                           f"{shape[0]} channels")
        return CfgNet(blocks, shape, cfg.path)

    enc_blocks = cfg.sections["Encoder"]
    image_shape = (enc_blocks[0].options.get("channels", 3), image_size, image_size)
    encoder = net("Encoder", image_shape)
    z_shape = encoder.output_shape
    pred_net = cfg.sections["AUPredictor"][0]
    z1 = pred_net.options.get("channels", z_shape[0] // 2)
    if not 0 < z1 < z_shape[0]:
        raise CfgError(f"{cfg.path}:{pred_net.line}: z1 channels={z1} must lie inside the encoder's "
                       f"{z_shape[0]} output channels (z2 gets the rest)")
    au_predictor = net("AUPredictor", (z1, *z_shape[1:]))
    decoder = net("Decoder", z_shape)
    if decoder.output_shape != image_shape:
        raise CfgError(f"{cfg.path}: the Decoder outputs {decoder.output_shape}, the image is {image_shape}")
    discriminator = net("Discriminator", z_shape)
    image_discriminator = net("Image Discriminator", image_shape) if "Image Discriminator" in cfg.sections else None
    return AUDetNetworks(encoder, au_predictor, decoder, discriminator, image_discriminator,
                         opts[0], opts[1], opts[2], z1, image_shape)
