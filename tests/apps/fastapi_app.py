"""A real FastAPI app for the integration tests, run by uvicorn."""

from __future__ import annotations

import os

from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health() -> dict[str, object]:
    return {"status": "ok", "pid": os.getpid()}
