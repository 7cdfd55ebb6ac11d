"""AUDetNet's disentangling training, and the checks of its ``test_disentangling``.

Per batch: the encoder gives z = (z1, z2); the AU predictor sees z1 only; the decoder rebuilds the
image from z. The mutual-information discriminator learns to tell original (z1, z2) pairs from
shuffled ones (z2 taken from another image of the batch), with a gradient penalty; the main networks
are trained every ``train_main_net_every_n_batches`` batches to predict AUs, reconstruct, and fool the
discriminator (so that z1 and z2 share no information). An optional image discriminator tells images
from reconstructions, also with a gradient penalty.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from pyfacs.au.audetnet import AUDetNetworks, check_outputs
from pyfacs.au.audetnet.data import momu
from pyfacs.errors import InputError


def linear_decay(n_epochs: int, last: int):
    """The learning-rate factor of epoch ``e`` under ``learning_rate_scheduler=Linear``: 1, then down
    over the ``last`` epochs. A window as long as the run or longer (a short run of a long recipe) still
    starts at the full rate: the decay then spans the epochs after the first."""
    last = min(last, n_epochs - 1)
    return lambda e: 1.0 if e < n_epochs - last else max(0.0, (n_epochs - e) / (last + 1))


def _p_original(out: torch.Tensor) -> torch.Tensor:
    """A discriminator's probability that its input is 'original': softmax column 0, or a sigmoid."""
    out = out.flatten(1)
    return out[:, 0] if out.shape[1] == 2 and torch.allclose(out.sum(1), torch.ones_like(out[:, 0]), atol=1e-4) \
        else torch.sigmoid(out[:, 0])


def _gradient_penalty(disc, real: torch.Tensor, fake: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    a = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), generator=gen)
    x = (a * real + (1 - a) * fake).requires_grad_(True)
    g, = torch.autograd.grad(_p_original(disc(x)).sum(), x, create_graph=True)
    return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()


def _disc_loss(disc, real: torch.Tensor, fake: torch.Tensor, penalty: float, gen: torch.Generator) -> torch.Tensor:
    """BCE for 'real is original, fake is not', plus ``penalty`` × the gradient penalty."""
    ones, zeros = torch.ones(len(real)), torch.zeros(len(real))
    loss = (F.binary_cross_entropy(_p_original(disc(real)).clamp(1e-6, 1 - 1e-6), ones)
            + F.binary_cross_entropy(_p_original(disc(fake)).clamp(1e-6, 1 - 1e-6), zeros))
    return loss + penalty * _gradient_penalty(disc, real, fake, gen)


def _adam(net, hp: dict):
    params = [p for p in net.parameters() if p.requires_grad]
    return torch.optim.Adam(params, lr=hp.get("learning_rate", 1e-3), betas=(hp.get("beta1", 0.5), hp.get("beta2", 0.999)))


def train_audetnet(nets: AUDetNetworks, images: np.ndarray, labels: np.ndarray, *, seed: int = 0,
                   epochs: int | None = None) -> list[dict]:
    """Train in place; returns one dict of mean losses per epoch. ``images`` (n, C, H, W) in [0, 1].
    Checked first: the images fit the networks and the AUPredictor gives one output per label column."""
    if tuple(images.shape[1:]) != tuple(nets.image_shape):
        raise InputError(f"the images are {tuple(images.shape[1:])}, but the cfg's networks take {nets.image_shape} "
                         f"(C, H, W); build them with image_size={images.shape[-1]} and the images' channels")
    check_outputs(nets, labels.shape[1])
    if nets.data.get("balance_dataset_with_momu"):
        bs = nets.training.get("batch_size", 32)
        epoch, sampling = nets.data.get("epoch_size", len(labels)), nets.data.get("sampling_size", bs)
        if epoch % sampling:
            raise InputError(f"balance_dataset_with_momu=True: sampling_size={sampling} (default: batch_size) must "
                             f"divide epoch_size={epoch} (default: the number of training images); set both in the "
                             f"cfg's [data_options]")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    tr, da, lo = nets.training, nets.data, nets.loss
    mean = torch.tensor(da.get("mean", [0.5] * images.shape[1])).view(1, -1, 1, 1)
    std = torch.tensor(da.get("std", [0.5] * images.shape[1])).view(1, -1, 1, 1)
    x_all = (torch.from_numpy(images) - mean) / std
    y_all = torch.from_numpy(labels.astype(np.float32))
    main = [nets.encoder, nets.au_predictor, nets.decoder]
    opt_main = [_adam(n, n.hparams) for n in main]
    opt_d = _adam(nets.discriminator, nets.discriminator.hparams)
    opt_i = _adam(nets.image_discriminator, nets.image_discriminator.hparams) if nets.image_discriminator else None
    au_loss = F.mse_loss if lo.get("au_regression_loss_function") == "MSE" else F.binary_cross_entropy_with_logits
    every = tr.get("train_main_net_every_n_batches", 1)
    bs, n_epochs = tr.get("batch_size", 32), epochs or tr.get("max_epochs", 1)
    size = da.get("epoch_size", len(labels)) if da.get("balance_dataset_with_momu") else len(labels)
    batches = n_epochs * (size // bs + (size % bs >= 2))  # (a last batch of one image is skipped)
    if batches == 0:
        raise InputError(f"{size} training image(s) make no batch of 2 or more (batch_size={bs}): the networks "
                         "would never train; train on more images")
    if batches < every:  # (the main networks train on every n-th batch of the whole run)
        raise InputError(f"train_main_net_every_n_batches={every}, but the run has {batches} batch(es) of "
                         f"{bs} images: the encoder and AU predictor would never train; lower it in the cfg's "
                         "[training_options], or train on more images or epochs")
    scheds = []
    if tr.get("learning_rate_scheduler") == "Linear":
        factor = linear_decay(n_epochs, tr.get("decay_lr_over_last_n_epochs", n_epochs))
        scheds = [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in opt_main + [opt_d]]
    history = []
    batch_no = 0
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}

    def add(key: str, loss: torch.Tensor) -> None:
        sums[key] = sums.get(key, 0.0) + float(loss.detach())
        counts[key] = counts.get(key, 0) + 1

    for _ in range(n_epochs):
        if da.get("balance_dataset_with_momu"):
            order = momu(labels, da.get("epoch_size", len(labels)), da.get("sampling_size", bs), rng)
        else:
            order = rng.permutation(len(labels))
        sums.clear()
        counts.clear()
        for i in range(0, len(order), bs):
            idx = torch.from_numpy(order[i:i + bs])
            if len(idx) < 2:
                continue
            x, y = x_all[idx], y_all[idx]
            z = nets.encoder(x)
            z1, z2 = z[:, :nets.z1_channels], z[:, nets.z1_channels:]
            perm = torch.roll(torch.arange(len(idx)), 1)  # every z2 moves to another image
            shuffled = torch.cat([z1, z2[perm]], 1)
            # discriminators: every batch
            d_loss = _disc_loss(nets.discriminator, z.detach(), shuffled.detach(),
                                lo.get("gradient_loss_lambda_discr", 0.0), gen)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            recon = nets.decoder(z)
            if opt_i is not None:
                i_loss = _disc_loss(nets.image_discriminator, x, recon.detach(),
                                    lo.get("gradient_loss_lambda_img_discr", 0.0), gen)
                opt_i.zero_grad()
                i_loss.backward()
                opt_i.step()
                add("img_disc", i_loss)
            add("disc", d_loss)
            batch_no += 1
            if batch_no % every:
                continue
            # main networks: AUs from z1, reconstruction from z, fool the MI discriminator
            a_loss = au_loss(nets.au_predictor(z1), y)
            r_loss = F.l1_loss(recon, x)
            fool = F.binary_cross_entropy(_p_original(nets.discriminator(z)).clamp(1e-6, 1 - 1e-6), torch.zeros(len(idx)))
            loss = a_loss + lo.get("reconstruction_loss_lambda", 1.0) * r_loss + lo.get("discriminator_loss_lambda", 0.0) * fool
            if opt_i is not None:
                loss = loss + lo.get("img_discriminator_loss_lambda", 0.0) * F.binary_cross_entropy(
                    _p_original(nets.image_discriminator(recon)).clamp(1e-6, 1 - 1e-6), torch.ones(len(idx)))
            for o in opt_main:
                o.zero_grad()
            loss.backward()
            for o in opt_main:
                o.step()
            for k, v in (("au", a_loss), ("recon", r_loss), ("fool", fool)):
                add(k, v)
        for s in scheds:
            s.step()
        # each loss's mean over the batches it was computed on (the main networks' every few batches)
        history.append({k: v / counts[k] for k, v in sums.items()})
    return history


@torch.no_grad()
def disentanglement_report(nets: AUDetNetworks, images: np.ndarray, labels: np.ndarray) -> dict:
    """The checks of AUDetNet's ``test_disentangling``: (1) how well a linear probe recovers the AUs
    from z1 versus from z2 (balanced accuracy, chance 0.5: z1 should carry them, z2 should not), (2) the MI discriminator's accuracy
    on original vs shuffled pairs (near 0.5 when z1 and z2 share nothing), (3) how much AU predictions
    move when z2 is swapped between images (zero by construction: only z1 feeds the predictor)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    for n in (nets.encoder, nets.au_predictor, nets.discriminator):
        n.eval()
    mean = torch.tensor(nets.data.get("mean", [0.5] * images.shape[1])).view(1, -1, 1, 1)
    std = torch.tensor(nets.data.get("std", [0.5] * images.shape[1])).view(1, -1, 1, 1)
    z = nets.encoder((torch.from_numpy(images) - mean) / std)
    z1, z2 = z[:, :nets.z1_channels], z[:, nets.z1_channels:]
    perm = torch.roll(torch.arange(len(z)), 1)
    probe = {}
    for name, feats in (("z1", z1), ("z2", z2)):
        scores = []
        for j in range(labels.shape[1]):
            y = (labels[:, j] > 0).astype(int)
            if 2 <= y.sum() <= len(y) - 2:
                folds = int(min(3, y.sum(), len(y) - y.sum()))
                # balanced: rare AUs would give any probe their majority rate (chance is 0.5 here)
                scores.append(cross_val_score(LogisticRegression(max_iter=2000), feats.flatten(1).numpy(), y,
                                              cv=folds, scoring="balanced_accuracy").mean())
        probe[name] = float(np.mean(scores)) if scores else float("nan")
    p_orig = _p_original(nets.discriminator(z))
    p_shuf = _p_original(nets.discriminator(torch.cat([z1, z2[perm]], 1)))
    disc_acc = float(((p_orig > 0.5).float().mean() + (p_shuf <= 0.5).float().mean()) / 2)
    swap = float((nets.au_predictor(z1) - nets.au_predictor(torch.cat([z1, z2[perm]], 1)[:, :nets.z1_channels])).abs().max())
    return {"probe_balanced_accuracy_z1": probe["z1"], "probe_balanced_accuracy_z2": probe["z2"],
            "mi_discriminator_accuracy": disc_acc, "au_change_when_z2_swapped": swap}
