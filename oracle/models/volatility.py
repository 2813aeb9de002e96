"""The learned forecaster: a small sequence model over multi-horizon daily features, pooled across assets.

Inputs per day (all known at the day's close): the return and its size, the Garman–Klass and Parkinson range
variances, their 5- and 22-day means, the EWMA variance, the 30-day drawdown and a regime label. Every variance
feature is taken in logs relative to the asset's own trailing one-year mean of log range variance, which is the
per-asset scaling: the network sees how stormy a day is *for this asset*, so one model serves every asset,
including assets it never saw. Outputs: the log variance of the next day's return (relative to that level) and a
Student-t degrees-of-freedom for the tail. Loss: QLIKE against the next day's Garman–Klass proxy, plus the
Student-t negative log-likelihood of the next day's return for the tail (through the dof only).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Self

import numpy as np
import pandas as pd
import torch
from scipy.cluster.vq import kmeans2
from torch import nn

from oracle.errors import ModelError
from oracle.models.base import QUANTILES, unit_t_ppf

FEATURES = ("r", "abs_r", "gk", "pk", "gk5", "gk22", "ewma", "garch", "drawdown", "regime")
LEVEL_WINDOW = 365  # days of the trailing mean used as the per-asset level
MIN_HISTORY = LEVEL_WINDOW // 4  # days before a first forecast is possible
REGIME = FEATURES.index("regime")


@dataclass(frozen=True)
class HyperParams:
    """Everything that defines a trained model besides its weights."""

    arch: str = "tcn"  # "tcn" (dilated causal convolutions) or "gru"
    seq_len: int = 32
    hidden: int = 32
    epochs: int = 12
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    nll_weight: float = 0.2
    seed: int = 1234
    ensemble: int = 3  # networks trained with seeds seed, seed + 1, ...; forecasts average their variances
    stress_weight: float = 0.0  # QLIKE weight of a sample = 1 + stress_weight x its regime label (0, 0.5, 1)


class RegimeModel:
    """A market-regime label: k-means (k = 3) on the 22-day range variance relative to the asset's level and the
    30-day drawdown, fitted on training days only; clusters ordered by stress (relative log variance plus log
    drawdown) and labelled 0 (calm), 0.5, 1 (stressed).

    Why k-means on two features: it is cheap, deterministic with a seed, and its centroids are readable in a
    report ("stressed: variance 2.3x its level, 25 % below the 30-day high").
    """

    COLUMNS = ("gk22", "drawdown")

    def __init__(self, centroids: np.ndarray | None = None) -> None:
        self.centroids = centroids

    def fit(self, frames: list[pd.DataFrame], seed: int) -> RegimeModel:
        x = np.concatenate([f[list(self.COLUMNS)].to_numpy() for f in frames])
        centroids, _ = kmeans2(x, 3, seed=seed, minit="++")
        # order by stress: log variance above the level plus log drawdown (the feature is 10 x log drawdown)
        stress = centroids[:, 0] - centroids[:, 1] / 10
        self.centroids = centroids[np.argsort(stress)]
        return self

    def label(self, frame: pd.DataFrame) -> pd.Series:
        """0 (calm), 0.5 or 1 (stressed) per day; each day labelled from that day's features only."""
        if self.centroids is None:
            raise ModelError("fit first")
        x = frame[list(self.COLUMNS)].to_numpy()
        nearest = np.argmin(((x[:, None, :] - self.centroids[None]) ** 2).sum(-1), axis=1)
        return pd.Series(nearest / 2.0, index=frame.index)


def features(history: pd.DataFrame, regime: RegimeModel | None = None) -> pd.DataFrame:
    """The feature frame of one asset, indexed by day (row t uses data up to the close of day t only), with the
    per-asset ``level`` used to scale variances; ``regime`` 0 until a fitted regime model labels it.

    ``garch`` (a fixed-parameter GARCH targeted at the level, see ``targeted_garch``) is there for the first days
    of a crash after a calm month, where the network alone forecast the calm to persist; on the 2018-19
    validation period it lowered the crash months' QLIKE for ETH and BTC under each of three seed sets."""
    log_gk = np.log(history["gk"])
    level = log_gk.rolling(LEVEL_WINDOW, min_periods=MIN_HISTORY).mean()
    r = history["r"]
    ewma = (r**2).ewm(alpha=0.06, adjust=False).mean()
    garch = targeted_garch(r, np.exp(level))
    price = np.exp(r.cumsum())
    frame = pd.DataFrame(
        {
            "r": r / np.exp(level / 2),
            "abs_r": r.abs() / np.exp(level / 2),
            "gk": log_gk - level,
            "pk": np.log(history["pk"].clip(lower=1e-12)) - level,
            "gk5": np.log(history["gk"].rolling(5).mean()) - level,
            "gk22": np.log(history["gk"].rolling(22).mean()) - level,
            "ewma": np.log(ewma.clip(lower=1e-12)) - level,
            "garch": np.log(garch) - level,
            "drawdown": np.log(price / price.rolling(30, min_periods=1).max()) * 10,
            "regime": 0.0,
            "level": level,
        }
    ).dropna()
    if regime is not None:
        frame["regime"] = regime.label(frame)
    return frame


GARCH_ALPHA, GARCH_BETA = 0.10, 0.85


def targeted_garch(r: pd.Series, target: pd.Series) -> pd.Series:
    """A GARCH(1,1) variance with fixed, typical crypto parameters, targeted at the asset's trailing level:
    ``s2[t] = (1 - a - b) target[t] + a r[t]^2 + b s2[t-1]``. Unlike the EWMA it reverts to the level, so after a
    calm month it stays above the calm; NaN until the target exists."""
    out = np.full(len(r), np.nan)
    x, v = r.to_numpy() ** 2, target.to_numpy()
    prev = np.nan
    for t in range(len(r)):
        if np.isnan(v[t]):
            continue
        prev = (
            v[t] if np.isnan(prev) else (1 - GARCH_ALPHA - GARCH_BETA) * v[t] + GARCH_ALPHA * x[t] + GARCH_BETA * prev
        )
        out[t] = prev
    return pd.Series(out, index=r.index)


class _Net(nn.Module):
    """Sequence encoder (GRU or dilated temporal convolutions over the window) and a two-output head."""

    def __init__(self, n_features: int, hidden: int, arch: str) -> None:
        super().__init__()
        self.arch = arch
        if arch == "gru":
            self.encoder: nn.Module = nn.GRU(n_features, hidden, batch_first=True)
        elif arch == "tcn":
            layers: list[nn.Module] = []
            channels = n_features
            for dilation in (1, 2, 4, 8):  # receptive field 31 days
                layers += [nn.Conv1d(channels, hidden, kernel_size=2, dilation=dilation), nn.GELU()]
                channels = hidden
            self.encoder = nn.Sequential(*layers)
        else:
            raise ModelError(f"unknown architecture {arch!r}")
        self.head = nn.Sequential(nn.Linear(hidden + n_features, hidden), nn.GELU(), nn.Linear(hidden, 2))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.arch == "gru":
            encoded = self.encoder(x)[0][:, -1]
        else:
            encoded = self.encoder(x.transpose(1, 2))[:, :, -1]
        # the last day's features go straight to the head too (a HAR-like shortcut)
        m, raw_dof = self.head(torch.cat([encoded, x[:, -1]], dim=-1)).unbind(-1)
        return m, 2.5 + nn.functional.softplus(raw_dof)


def _windows(feat: pd.DataFrame, seq_len: int) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Sequences ending at each day (for the forecast of the next day) and the day each one ends on."""
    x = feat[list(FEATURES)].to_numpy(dtype=np.float32)
    if len(x) < seq_len:
        return np.empty((0, seq_len, len(FEATURES)), np.float32), feat.index[:0]
    view = np.lib.stride_tricks.sliding_window_view(x, (seq_len, len(FEATURES)))[:, 0]
    return np.ascontiguousarray(view), feat.index[seq_len - 1 :]


class NeuralForecaster:
    """Pooled sequence volatility model with the shared ``fit`` / ``forecast`` interface (one asset at a time for
    ``forecast``; ``fit_pooled`` learns from several)."""

    name = "neural"

    def __init__(self, hp: HyperParams | None = None) -> None:
        self.hp = hp or HyperParams()
        self.nets: list[_Net] = []
        self.regime: RegimeModel | None = None
        self.train_loss: list[float] = []

    # ------------------------------------------------------------------ training
    def _samples(self, histories: dict[str, pd.DataFrame]) -> tuple[torch.Tensor, ...]:
        xs, proxies, returns, levels = [], [], [], []
        for history in histories.values():
            feat = features(history, self.regime)
            x, ends = _windows(feat, self.hp.seq_len)
            nxt = history.index.get_indexer(ends) + 1
            keep = nxt < len(history)
            xs.append(x[keep])
            proxies.append(history["gk"].to_numpy()[nxt[keep]])
            returns.append(history["r"].to_numpy()[nxt[keep]])
            levels.append(feat["level"].to_numpy()[self.hp.seq_len - 1 :][keep])
        cat = [torch.from_numpy(np.concatenate(a).astype(np.float32)) for a in (xs, proxies, returns, levels)]
        return tuple(cat)

    def fit_pooled(self, histories: dict[str, pd.DataFrame]) -> Self:
        """Train on every asset's history (each a ``daily_history`` frame): ``hp.ensemble`` networks, each from
        its own seed; ``train_loss`` is their mean per epoch."""
        np.random.seed(self.hp.seed)
        self.regime = RegimeModel().fit([features(h) for h in histories.values()], self.hp.seed)
        x, proxy, ret, level = self._samples(histories)
        if len(x) == 0:
            raise ModelError("not enough history to train")
        log_proxy = torch.log(proxy) - level
        scaled_r = ret / torch.exp(level / 2)
        members = [self._train_one(x, log_proxy, scaled_r, self.hp.seed + k) for k in range(self.hp.ensemble)]
        self.nets = [net for net, _ in members]
        self.train_loss = [float(np.mean(epoch)) for epoch in zip(*(losses for _, losses in members), strict=True)]
        return self

    def _train_one(
        self, x: torch.Tensor, log_proxy: torch.Tensor, scaled_r: torch.Tensor, seed: int
    ) -> tuple[_Net, list[float]]:
        torch.manual_seed(seed)
        net = _Net(len(FEATURES), self.hp.hidden, self.hp.arch)
        opt = torch.optim.AdamW(net.parameters(), lr=self.hp.lr, weight_decay=self.hp.weight_decay)
        gen = torch.Generator().manual_seed(seed)
        losses = []
        for _ in range(self.hp.epochs):
            order = torch.randperm(len(x), generator=gen)
            total = 0.0
            for i in range(0, len(x), self.hp.batch_size):
                idx = order[i : i + self.hp.batch_size]
                m, dof = net(x[idx])
                q = torch.exp(log_proxy[idx] - m) + m - log_proxy[idx] - 1  # QLIKE in log space
                if self.hp.stress_weight:
                    w = 1 + self.hp.stress_weight * x[idx, -1, REGIME]
                    q = q * w / w.mean()
                # Student-t NLL of the return with unit-variance scaling; the variance is QLIKE's job
                z2 = scaled_r[idx] ** 2 / torch.exp(m.detach()) * dof / (dof - 2)
                nll = (
                    -torch.lgamma((dof + 1) / 2)
                    + torch.lgamma(dof / 2)
                    + 0.5 * torch.log(math.pi * (dof - 2))
                    + (dof + 1) / 2 * torch.log1p(z2 / dof)
                )
                loss = q.mean() + self.hp.nll_weight * nll.mean()
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                total += float(loss.detach()) * len(idx)
            losses.append(total / len(x))
        return net.eval(), losses

    def _predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Relative log variance and dof per window: the members' variances averaged (not their logs: QLIKE
        punishes an under-forecast more than an over-forecast), their dofs averaged."""
        if not self.nets:
            raise ModelError("fit or load first")
        with torch.no_grad():
            outs = [net(torch.from_numpy(x)) for net in self.nets]
        m = torch.logsumexp(torch.stack([o[0] for o in outs]), dim=0) - math.log(len(outs))
        dof = torch.stack([o[1] for o in outs]).mean(0)
        return m.numpy(), dof.numpy()

    def fit(self, history: pd.DataFrame) -> Self:
        return self.fit_pooled({"asset": history})

    # ------------------------------------------------------------------ forecasting
    def forecast(self, history: pd.DataFrame, start: pd.Timestamp) -> pd.DataFrame:
        feat = features(history, self.regime)
        x, ends = _windows(feat, self.hp.seq_len)
        m, dof = self._predict(x)
        level = feat["level"].to_numpy()[self.hp.seq_len - 1 :]
        # the sequence ending on day t forecasts day t + 1 (the last one has no target day in the history)
        nxt = history.index.get_indexer(ends) + 1
        keep = nxt < len(history)
        out = pd.DataFrame(
            {"variance": np.exp(m[keep] + level[keep]), "dof": dof[keep].astype(float)},
            index=history.index[nxt[keep]],
        )
        for q in QUANTILES:
            out[f"q{int(q * 100):02d}"] = unit_t_ppf(q, out["dof"])
        return out.loc[start:]

    def predict_next(self, history: pd.DataFrame) -> tuple[float, float]:
        """Variance and Student-t dof for the day after the last day of ``history``."""
        feat = features(history, self.regime)
        x, _ends = _windows(feat, self.hp.seq_len)
        if len(x) == 0:
            raise ModelError(f"need at least {MIN_HISTORY + self.hp.seq_len} days of history")
        level = feat["level"].iloc[-1]
        m, dof = self._predict(x[-1:])
        return float(np.exp(float(m[0]) + level)), float(dof[0])

    def regime_labels(self, history: pd.DataFrame) -> pd.Series:
        """The regime label (0 calm, 0.5, 1 stressed) of each day of ``history`` with enough history."""
        if self.regime is None:
            raise ModelError("fit or load first")
        return features(history, self.regime)["regime"]

    def regime_of(self, history: pd.DataFrame) -> float:
        """The regime label of the last day of ``history``."""
        return float(self.regime_labels(history).iloc[-1])

    # ------------------------------------------------------------------ persistence
    def state(self) -> dict[str, object]:
        """Weights, regime centroids and hyper-parameters, for ``torch.save``."""
        if not self.nets or self.regime is None or self.regime.centroids is None:
            raise ModelError("nothing to save")
        return {
            "hp": asdict(self.hp),
            "features": list(FEATURES),
            "weights": [n.state_dict() for n in self.nets],
            "regime_centroids": self.regime.centroids.tolist(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> NeuralForecaster:
        """Rebuild from ``state()``; refuses a feature set that differs from this code's."""
        if list(state["features"]) != list(FEATURES):
            raise ModelError(f"artifact features {state['features']} != code features {list(FEATURES)}")
        model = cls(HyperParams(**{"ensemble": 1, **state["hp"]}))
        weights = state["weights"]
        members = weights if isinstance(weights, list) else [weights]  # one network: a single state dict
        if len(members) != model.hp.ensemble:
            raise ModelError(f"artifact has {len(members)} networks, its hyper-parameters say {model.hp.ensemble}")
        for member in members:
            net = _Net(len(FEATURES), model.hp.hidden, model.hp.arch)
            net.load_state_dict(member)
            model.nets.append(net.eval())
        model.regime = RegimeModel(np.array(state["regime_centroids"]))
        return model
