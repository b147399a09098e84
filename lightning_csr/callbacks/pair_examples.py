"""`PairExamplesLogger`: the pairs an iteration trains on, as a table people can read in W&B or TensorBoard."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightning as L
import numpy as np
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from PIL import Image

COLUMNS = [
    "iteration",
    "id",
    "image",
    "prompt",
    "chosen",
    "rejected",
    "chosen_score",
    "rejected_score",
    "margin",
]


@dataclass
class PairExample:
    """One row of the table: a thumbnail, the texts and the rewards CSR stored (None where a method has none)."""

    iteration: int
    id: str
    thumbnail: Image.Image
    prompt: str
    chosen: str
    rejected: str
    chosen_score: float | None
    rejected_score: float | None
    margin: float | None

    def cells(self, image: Any) -> list[Any]:
        return [self.iteration, self.id, image, self.prompt, self.chosen, self.rejected, *self.rewards()]

    def rewards(self) -> list[float | None]:
        return [self.chosen_score, self.rejected_score, self.margin]


def pair_example(item: dict[str, Any], iteration: int, size: int) -> PairExample:
    """A dataset item (`record` and `image`) as a table row with a square `size` x `size` thumbnail."""
    record, meta = item["record"], item["record"].meta
    thumbnail = item["image"].convert("RGB").resize((size, size))
    scores = [meta.get(key) for key in ("chosen_score", "rejected_score", "margin")]
    return PairExample(
        iteration, record.id, thumbnail, record.prompt, record.chosen, record.rejected, *scores
    )


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(examples: list[PairExample]) -> str:
    """The examples (without images) as a markdown table, which TensorBoard's text tab renders."""
    header = [c for c in COLUMNS if c != "image"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for example in examples:
        cells = [example.iteration, example.id, example.prompt, example.chosen, example.rejected]
        lines.append("| " + " | ".join(_cell(v) for v in [*cells, *example.rewards()]) + " |")
    return "\n".join(lines)


def log_examples(logger: Any, examples: list[PairExample], iteration: int, step: int) -> bool:
    """Write the table to a logger that can show one; False for loggers that cannot (CSV)."""
    if isinstance(logger, WandbLogger):
        import wandb

        data = [example.cells(wandb.Image(example.thumbnail)) for example in examples]
        logger.log_table(key=f"pairs/iteration_{iteration}", columns=COLUMNS, data=data, step=step)
        return True
    if isinstance(logger, TensorBoardLogger):
        writer = logger.experiment
        writer.add_text("pairs/examples", markdown_table(examples), global_step=iteration)
        images = np.stack([np.asarray(e.thumbnail) for e in examples])
        writer.add_images("pairs/thumbnails", images, global_step=iteration, dataformats="NHWC")
        writer.flush()
        return True
    return False


class PairExamplesLogger(L.Callback):
    """Logs the first pairs of each new training set (each CSR iteration; once for fixed pairs) as a table.

    W&B gets a `wandb.Table` per iteration (`pairs/iteration_<k>`: thumbnail, prompt, chosen, rejected, rewards);
    TensorBoard a markdown table in its text tab and the thumbnails in its images tab (`pairs/...`, step = the
    iteration); loggers that show no tables (CSV) get nothing.

    Args:
        num_examples: pairs per table, the first ones of the pairs file.
        thumbnail_size: side of the square thumbnails in pixels.
    """

    def __init__(self, num_examples: int = 8, thumbnail_size: int = 128) -> None:
        if num_examples < 1 or thumbnail_size < 1:
            raise ValueError("PairExamplesLogger: num_examples and thumbnail_size must be at least 1")
        self.num_examples, self.thumbnail_size = num_examples, thumbnail_size
        self.logged_digest: str | None = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        datamodule = trainer.datamodule
        showing = any(isinstance(lg, WandbLogger | TensorBoardLogger) for lg in trainer.loggers)
        if not trainer.is_global_zero or not showing or not hasattr(datamodule, "train_dataset"):
            return
        digest = datamodule.train_digest
        if digest == self.logged_digest:
            return
        self.logged_digest = digest
        dataset = datamodule.train_dataset()
        iteration = trainer.current_epoch + 1
        count = min(self.num_examples, len(dataset))
        examples = [pair_example(dataset[i], iteration, self.thumbnail_size) for i in range(count)]
        for logger in trainer.loggers:
            log_examples(logger, examples, iteration, trainer.global_step)
