"""`dne data import FILE`: hourly funding from Drift's Data API into DNE_IMPORT_DIR.

Two shapes of `fundingRates` responses are accepted:

- legacy `GET /fundingRates?marketName=...`: `{"fundingRates": [...]}` with raw integer strings,
  fundingRate in FUNDING_RATE_PRECISION (1e9, quote per base) and oraclePriceTwap /
  markPriceTwap in PRICE_PRECISION (1e6); hourly fraction = (fundingRate / 1e9) /
  (oraclePriceTwap / 1e6) (drift-labs/v2-teacher, source/includes/_data_api.md);
- newer `GET /market/{symbol}/fundingRates`: `{"success": true, "records": [...],
  "meta": {"nextPage": ...}}` with the same field names already scaled to decimals
  ("fundingRate": "-0.001024958", "oraclePriceTwap": "84.693889"); hourly fraction =
  fundingRate / oraclePriceTwap. These names come from published responses of that endpoint
  in public repositories, not from a formal schema: extra fields are ignored.

A record's `ts` is when Drift settled the funding, just after the hour; the record covers the
hour before: period_start = ts rounded to the nearest hour, minus one hour.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TextIO

from driftpy.constants.numeric_constants import FUNDING_RATE_PRECISION, PRICE_PRECISION
from driftpy.constants.perp_markets import mainnet_perp_market_configs
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from services.feed.funding_math import HOUR
from services.feed.history_store import (
    ImportedHistoryError,
    StoredFundingRecord,
    StoredHistory,
    history_path,
    merge_records,
    read_history,
    write_history,
)
from services.feed.settings import DEFAULT_IMPORT_DIR

EXIT_OK = 0
EXIT_BAD_INPUT = 2
# Seconds since the epoch between 2020 and 2100: a millisecond `ts` is refused, not misread.
TS_MIN, TS_MAX = 1_577_836_800, 4_102_444_800
SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,39}$")
MAX_ERRORS_SHOWN = 5


class ImportFailure(Exception):
    """The file cannot be imported; the message says why and what was expected."""


def _integral(value: Decimal) -> Decimal:
    if value != value.to_integral_value():
        raise ValueError(
            f"legacy fundingRates carry raw integers (fundingRate x 1e9, prices x 1e6), "
            f"found {value}: is this the newer scaled shape with 'records'?"
        )
    return value


def _symbol(value: str | None) -> str | None:
    if value is None:
        return None
    symbol = value.strip().upper()
    if not SYMBOL.match(symbol):
        raise ValueError(f"not a market symbol like 'SOL-PERP': {value[:40]!r}")
    return symbol


Timestamp = Annotated[int, Field(ge=TS_MIN, le=TS_MAX)]
RawInteger = Annotated[Decimal, Field(allow_inf_nan=False), AfterValidator(_integral)]
RawPrice = Annotated[Decimal, Field(allow_inf_nan=False, gt=0), AfterValidator(_integral)]
Scaled = Annotated[Decimal, Field(allow_inf_nan=False)]
ScaledPrice = Annotated[Decimal, Field(allow_inf_nan=False, gt=0)]
Symbol = Annotated[str | None, AfterValidator(_symbol)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    ts: Timestamp
    market_index: int | None = Field(default=None, alias="marketIndex", ge=0)
    symbol: Symbol = None
    market_name: Symbol = Field(default=None, alias="marketName")


class LegacyFundingRate(_Record):
    funding_rate: RawInteger = Field(alias="fundingRate")
    oracle_price_twap: RawPrice = Field(alias="oraclePriceTwap")
    mark_price_twap: RawPrice | None = Field(default=None, alias="markPriceTwap")


class LegacyResponse(BaseModel):
    model_config = ConfigDict(extra="ignore")

    funding_rates: list[LegacyFundingRate] = Field(alias="fundingRates")


class ScaledFundingRate(_Record):
    funding_rate: Scaled = Field(alias="fundingRate")
    oracle_price_twap: ScaledPrice = Field(alias="oraclePriceTwap")
    mark_price_twap: ScaledPrice | None = Field(default=None, alias="markPriceTwap")


class ScaledResponse(BaseModel):
    model_config = ConfigDict(extra="ignore")

    success: bool
    records: list[ScaledFundingRate]
    meta: dict[str, Any] | None = None


@dataclass(frozen=True)
class MarketImport:
    market: str
    market_index: int | None
    added: int
    replaced: int
    stored: int
    first: datetime
    last: datetime
    path: Path


MAINNET_SYMBOLS = {config.market_index: config.symbol for config in mainnet_perp_market_configs}
MAINNET_INDICES = {config.symbol: config.market_index for config in mainnet_perp_market_configs}


def period_start_of(ts: int) -> datetime:
    """The hour a funding record covers: it settles at ts (just after the hour)."""
    settled = datetime.fromtimestamp(ts, UTC)
    nearest_hour = (settled + timedelta(minutes=30)).replace(minute=0, second=0, microsecond=0)
    return nearest_hour - HOUR


def _market_of(record: _Record, number: int) -> tuple[str, int | None]:
    """The market a record belongs to, from its symbol or its mainnet marketIndex."""
    named = record.symbol or record.market_name
    index = record.market_index
    by_index = MAINNET_SYMBOLS.get(index) if index is not None else None
    if index is not None and by_index is None and named is None:
        raise ImportFailure(
            f"record {number}: marketIndex {index} is not a mainnet perp market known to "
            "driftpy; add a 'symbol' field"
        )
    if named and by_index and named != by_index:
        raise ImportFailure(
            f"record {number}: symbol {named} disagrees with marketIndex {index} "
            f"({by_index} on mainnet)"
        )
    symbol = named or by_index
    if symbol is None:
        raise ImportFailure(f"record {number}: neither 'symbol' nor 'marketIndex' names the market")
    return symbol, index if index is not None else MAINNET_INDICES.get(symbol)


def _normalize_legacy(record: LegacyFundingRate) -> StoredFundingRecord:
    rate_quote_per_base = record.funding_rate / FUNDING_RATE_PRECISION
    oracle_twap = record.oracle_price_twap / PRICE_PRECISION
    mark = record.mark_price_twap / PRICE_PRECISION if record.mark_price_twap else None
    return StoredFundingRecord(
        period_start=period_start_of(record.ts),
        rate_1h=rate_quote_per_base / oracle_twap,
        oracle_twap=oracle_twap,
        mark_twap=mark,
    )


def _normalize_scaled(record: ScaledFundingRate) -> StoredFundingRecord:
    return StoredFundingRecord(
        period_start=period_start_of(record.ts),
        rate_1h=record.funding_rate / record.oracle_price_twap,
        oracle_twap=record.oracle_price_twap,
        mark_twap=record.mark_price_twap,
    )


def _describe(error: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in problem['loc'])}: "
        f"{problem['msg'].removeprefix('Value error, ')}"
        for problem in error.errors()[:MAX_ERRORS_SHOWN]
    ]
    more = error.error_count() - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


def parse_funding_file(document: Any) -> dict[str, tuple[int | None, list[StoredFundingRecord]]]:
    """Either shape -> {symbol: (market index, hourly records)}; later ts wins within an hour."""
    if not isinstance(document, dict):
        raise ImportFailure(
            f"expected a JSON object from Drift's fundingRates, found a {type(document).__name__}"
        )
    try:
        if "fundingRates" in document:
            legacy = LegacyResponse.model_validate(document).funding_rates
            pairs = [(r, _normalize_legacy(r)) for r in sorted(legacy, key=lambda r: r.ts)]
        elif "records" in document:
            scaled = ScaledResponse.model_validate(document)
            if not scaled.success:
                raise ImportFailure("the response says success: false; fetch it again")
            pairs = [(r, _normalize_scaled(r)) for r in sorted(scaled.records, key=lambda r: r.ts)]
        else:
            keys = ", ".join(sorted(map(str, document))[:8]) or "none"
            raise ImportFailure(
                "not a Drift fundingRates response: expected 'fundingRates' (legacy) or "
                f"'success' and 'records' (newer data API); found keys: {keys}"
            )
    except ValidationError as error:
        raise ImportFailure(_describe(error)) from None
    if not pairs:
        raise ImportFailure("the file holds no funding records")
    markets: dict[str, tuple[int | None, dict[datetime, StoredFundingRecord]]] = {}
    for number, (record, stored) in enumerate(pairs):
        symbol, index = _market_of(record, number)
        markets.setdefault(symbol, (index, {}))[1][stored.period_start] = stored
    return {
        symbol: (index, [hours[hour] for hour in sorted(hours)])
        for symbol, (index, hours) in markets.items()
    }


def import_file(path: Path, import_dir: Path) -> list[MarketImport]:
    """Reads, validates and merges one file into import_dir; raises ImportFailure."""
    try:
        document = json.loads(path.read_text(), parse_float=Decimal)
    except FileNotFoundError:
        raise ImportFailure(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ImportFailure(f"cannot read {path}: {error}") from None
    except ValueError as error:
        raise ImportFailure(f"{path} is not JSON: {error}") from None
    results: list[MarketImport] = []
    for symbol, (index, incoming) in sorted(parse_funding_file(document).items()):
        target = history_path(import_dir, symbol)
        existing: list[StoredFundingRecord] = []
        if target.exists():
            try:
                existing = read_history(target).records
            except ImportedHistoryError as error:
                raise ImportFailure(f"{error}; fix or remove it before importing") from None
        merged = merge_records(existing, incoming)
        stored_hours = {record.period_start for record in existing}
        replaced = sum(1 for record in incoming if record.period_start in stored_hours)
        written = write_history(
            import_dir, StoredHistory(market=symbol, market_index=index, records=merged)
        )
        results.append(MarketImport(
            symbol, index, len(incoming) - replaced, replaced, len(merged),
            incoming[0].period_start, incoming[-1].period_start, written,
        ))
    return results


def default_import_dir() -> Path:
    configured = os.environ.get("DNE_IMPORT_DIR")
    return Path(configured) if configured else DEFAULT_IMPORT_DIR


def run_import(
    path: Path,
    import_dir: Path | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """The command: prints what was imported, or why not; answers the exit code."""
    out, err = out or sys.stdout, err or sys.stderr
    target = import_dir or default_import_dir()
    try:
        results = import_file(path, target)
    except ImportFailure as failure:
        print(f"dne data import: {path}: {failure}", file=err)
        return EXIT_BAD_INPUT
    except OSError as error:
        print(f"dne data import: cannot write to {target}: {error}", file=err)
        return EXIT_BAD_INPUT
    for result in results:
        print(
            f"{result.market}: {result.added} hours added, {result.replaced} replaced "
            f"({result.first:%Y-%m-%d %H:%M} to {result.last:%Y-%m-%d %H:%M} UTC); "
            f"{result.stored} hours in {result.path}",
            file=out,
        )
    print(
        "A running feed uses them after ReplayControlService.ReloadHistory or its next start.",
        file=out,
    )
    return EXIT_OK
