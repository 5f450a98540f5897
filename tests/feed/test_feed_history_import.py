"""`dne data import`: both shapes of Drift's fundingRates, merged by hour, bad files refused."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import pytest

from dne.feed.v1 import feed_pb2
from services.cli.main import main as dne
from services.common.timeutil import from_timestamp, to_timestamp
from services.feed.history_import import period_start_of, run_import
from services.feed.history_store import read_history
from tests.kit.feed_builders import FIXTURES, FeedStubs, feed_server, replay_market

LEGACY = FIXTURES / "legacy_fundingRates_SOL-PERP.json"
SCALED = FIXTURES / "scaled_fundingRates_SOL-PERP.json"


def hour(day: int, at: int, month: int = 3) -> datetime:
    return datetime(2026, month, day, at, tzinfo=UTC)


def write_json(tmp_path: Path, document: Any, name: str = "input.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def import_quietly(path: Path, import_dir: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_import(path, import_dir, out, err)
    return code, out.getvalue(), err.getvalue()


def test_ts_just_after_the_hour_settles_the_hour_before() -> None:
    assert period_start_of(1773072008) == hour(9, 15)    # 16:00:08 settles 15:00-16:00
    assert period_start_of(1773079199) == hour(9, 17)    # 17:59:59 is the 18:00 settlement


def test_legacy_raw_integers_convert_to_the_hourly_fraction(import_dir: Path) -> None:
    code, out, err = import_quietly(LEGACY, import_dir)
    assert code == 0, err
    assert "SOL-PERP: 3 hours added" in out
    stored = read_history(import_dir / "SOL-PERP.json")
    assert stored.market == "SOL-PERP" and stored.market_index == 0
    by_hour = {record.period_start: record for record in stored.records}
    # Known answer: the recorded SOL-PERP account's -987625 / 85043706.
    assert float(by_hour[hour(9, 15)].rate_1h) == pytest.approx(-1.1613146303854631e-05, rel=1e-12)
    assert by_hour[hour(9, 15)].oracle_twap == Decimal("85.043706")
    assert by_hour[hour(9, 15)].mark_twap == Decimal("85.001305")
    assert by_hour[hour(9, 16)].rate_1h == Decimal("0.00001")    # (850000/1e9)/(85000000/1e6)
    assert by_hour[hour(9, 17)].rate_1h == Decimal("0.00002")


def test_newer_scaled_records_convert_to_the_hourly_fraction(import_dir: Path) -> None:
    code, _, err = import_quietly(SCALED, import_dir)
    assert code == 0, err
    stored = read_history(import_dir / "SOL-PERP.json")
    by_hour = {record.period_start: record.rate_1h for record in stored.records}
    assert by_hour == {
        hour(15, 12, month=1): Decimal("-0.00001"),   # -0.0017 / 170
        hour(15, 13, month=1): Decimal("0.000005"),   # 0.00085 / 170
    }


def test_importing_again_merges_by_hour_and_the_new_file_wins(
    import_dir: Path, tmp_path: Path
) -> None:
    assert import_quietly(LEGACY, import_dir)[0] == 0
    changed = json.loads(LEGACY.read_text())
    changed["fundingRates"] = [changed["fundingRates"][1] | {"fundingRate": "1700000"}]
    code, out, _ = import_quietly(write_json(tmp_path, changed), import_dir)
    assert code == 0
    assert "0 hours added, 1 replaced" in out
    stored = read_history(import_dir / "SOL-PERP.json").records
    assert [record.period_start for record in stored] == [hour(9, 15), hour(9, 16), hour(9, 17)]
    assert stored[1].rate_1h == Decimal("0.00002")


def test_a_file_with_several_markets_writes_one_file_per_market(
    import_dir: Path, tmp_path: Path
) -> None:
    document = {"fundingRates": [
        {"ts": 1773072008, "marketIndex": 0, "fundingRate": "1000", "oraclePriceTwap": "1000000"},
        {"ts": 1773072008, "marketIndex": 1, "fundingRate": "2000", "oraclePriceTwap": "1000000"},
    ]}
    assert import_quietly(write_json(tmp_path, document), import_dir)[0] == 0
    assert read_history(import_dir / "BTC-PERP.json").records[0].rate_1h == Decimal("0.000002")
    assert read_history(import_dir / "SOL-PERP.json").records[0].rate_1h == Decimal("0.000001")


BAD_FILES: dict[str, tuple[Any, str]] = {
    "a list": ([1, 2], "expected a JSON object"),
    "neither shape": ({"data": []}, "not a Drift fundingRates response"),
    "no records": ({"fundingRates": []}, "no funding records"),
    "success false": ({"success": False, "records": [], "meta": {}}, "success: false"),
    "scaled value in the legacy shape": (
        {"fundingRates": [{"ts": 1773072008, "marketIndex": 0, "fundingRate": "-0.0010",
                           "oraclePriceTwap": "85043706"}]}, "raw integers"),
    "zero oracle twap": (
        {"fundingRates": [{"ts": 1773072008, "marketIndex": 0, "fundingRate": "1",
                           "oraclePriceTwap": "0"}]}, "oraclePriceTwap"),
    "NaN rate": (
        {"success": True, "records": [{"ts": 1773072008, "symbol": "SOL-PERP",
                                       "fundingRate": "NaN", "oraclePriceTwap": "85"}]},
        "fundingRate"),
    "milliseconds ts": (
        {"success": True, "records": [{"ts": 1773072008000, "symbol": "SOL-PERP",
                                       "fundingRate": "0.001", "oraclePriceTwap": "85"}]}, "ts"),
    "missing rate": (
        {"success": True, "records": [{"ts": 1773072008, "symbol": "SOL-PERP",
                                       "oraclePriceTwap": "85"}]}, "fundingRate"),
    "no market": (
        {"success": True, "records": [{"ts": 1773072008, "fundingRate": "0.001",
                                       "oraclePriceTwap": "85"}]}, "names the market"),
    "unknown market index": (
        {"fundingRates": [{"ts": 1773072008, "marketIndex": 9999, "fundingRate": "1",
                           "oraclePriceTwap": "1"}]}, "marketIndex 9999"),
    "symbol disagrees with index": (
        {"success": True, "records": [{"ts": 1773072008, "marketIndex": 1, "symbol": "SOL-PERP",
                                       "fundingRate": "0.001", "oraclePriceTwap": "85"}]},
        "disagrees"),
    "path in the symbol": (
        {"success": True, "records": [{"ts": 1773072008, "symbol": "../../etc/passwd",
                                       "fundingRate": "0.001", "oraclePriceTwap": "85"}]},
        "not a market symbol"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_is_refused_with_exit_code_2_and_a_reason(
    case: str, import_dir: Path, tmp_path: Path
) -> None:
    document, reason = BAD_FILES[case]
    code, out, err = import_quietly(write_json(tmp_path, document), import_dir)
    assert code == 2
    assert reason in err
    assert "Traceback" not in err and out == ""
    assert not list(import_dir.glob("*.json")) if import_dir.exists() else True


def test_a_missing_or_non_json_file_is_refused(import_dir: Path, tmp_path: Path) -> None:
    code, _, err = import_quietly(tmp_path / "absent.json", import_dir)
    assert code == 2 and "no such file" in err
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    code, _, err = import_quietly(garbage, import_dir)
    assert code == 2 and "is not JSON" in err


def test_the_dne_command_dispatches_data_import(
    import_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert dne(["data", "import", str(SCALED), "--import-dir", str(import_dir)]) == 0
    assert "SOL-PERP: 2 hours added" in capsys.readouterr().out
    assert dne(["data", "import", str(import_dir / "absent.json")]) == 2
    with pytest.raises(SystemExit) as usage:
        dne(["data"])
    assert usage.value.code == 2


def test_the_dne_command_reads_dne_import_dir(
    import_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DNE_IMPORT_DIR", str(import_dir))
    assert dne(["data", "import", str(LEGACY)]) == 0
    assert (import_dir / "SOL-PERP.json").exists()


async def test_the_feed_serves_imported_hours_after_reload_history(import_dir: Path) -> None:
    market = replay_market(import_dir, start=datetime(2026, 1, 15, 16, tzinfo=UTC))
    async with feed_server(market) as stubs:
        assert import_quietly(SCALED, import_dir)[0] == 0
        reloaded = await stubs.replay.ReloadHistory(feed_pb2.ReloadHistoryRequest())
        assert reloaded.imported_records == 2
        found = await _history(stubs, hour(15, 11, month=1), hour(15, 15, month=1))
    sources = {from_timestamp(r.period_start).hour: (r.source, r.rate_1h, r.oracle_twap)
               for r in found}
    assert sources[11][0] == "recorded_daily_average"
    assert sources[12] == ("imported_hourly", "-0.00001", "170")
    assert sources[13] == ("imported_hourly", "0.000005", "170")
    assert sources[14][0] == "recorded_daily_average"


async def test_the_feed_loads_imported_history_at_start(import_dir: Path) -> None:
    assert import_quietly(SCALED, import_dir)[0] == 0
    market = replay_market(import_dir, start=datetime(2026, 1, 15, 14, 30, tzinfo=UTC))
    async with feed_server(market) as stubs:
        table = await stubs.feed.ListFundingMarkets(feed_pb2.ListFundingMarketsRequest())
    sol = next(m for m in table.markets if m.symbol == "SOL-PERP")
    assert (sol.rate_source, sol.rate_1h) == ("imported_hourly", "0.000005")
    assert any("2 hours of imported" in note for note in table.model_notes)


def test_imported_history_beyond_the_recorded_days_extends_the_replay(
    import_dir: Path, tmp_path: Path
) -> None:
    later = {"success": True, "records": [{"ts": 1775066400, "symbol": "SOL-PERP",
             "fundingRate": "-0.001024958", "oraclePriceTwap": "84.693889"}], "meta": {}}
    assert import_quietly(write_json(tmp_path, later), import_dir)[0] == 0
    market = replay_market(import_dir)
    assert market.clock_state().end == datetime(2026, 4, 1, 18, tzinfo=UTC)


async def test_a_corrupt_imported_file_fails_reload_and_keeps_the_history(
    import_dir: Path,
) -> None:
    market = replay_market(import_dir)
    async with feed_server(market) as stubs:
        write_corrupt_history(import_dir)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stubs.replay.ReloadHistory(feed_pb2.ReloadHistoryRequest())
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "previous one stays in use" in (refused.value.details() or "")
        table = await stubs.feed.ListFundingMarkets(feed_pb2.ListFundingMarketsRequest())
    assert len(table.markets) == 9


def write_corrupt_history(import_dir: Path) -> None:
    import_dir.mkdir(parents=True)
    (import_dir / "SOL-PERP.json").write_text("{broken")


async def _history(
    stubs: FeedStubs, start: datetime, end: datetime
) -> list[feed_pb2.FundingRecord]:
    reply = await stubs.feed.GetFundingHistory(feed_pb2.GetFundingHistoryRequest(
        market="SOL-PERP", start=to_timestamp(start), end=to_timestamp(end)))
    return list(reply.records)
