"""Turn the core's input errors into HTTP client errors.

MONAI Label answers any exception from an app with 500. A user who uploads a
corrupt file, or asks for an image that is not there, should get a 4xx that
says what is wrong; the server goes on serving either way.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

from fastapi import HTTPException

from mcseg.io.errors import InputError
from mcseg.pipeline import WeightsError
from monailabel.interfaces.exception import ImageNotFoundException, LabelNotFoundException

log = logging.getLogger(__name__)


@contextmanager
def client_errors():
    try:
        yield
    except HTTPException:
        raise
    except (ImageNotFoundException, LabelNotFoundException) as exc:
        raise HTTPException(status_code=404, detail=exc.msg) from exc
    except InputError as exc:
        log.warning("rejected input: %s", exc)
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    except WeightsError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc
