"""Media in (images, videos, streams), tables out (Parquet/CSV/JSONL), and other tools' files."""
