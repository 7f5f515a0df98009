"""REST routes (filled in by its module)."""

from fastapi import APIRouter

router = APIRouter()
