"""The FundingEngine: start/stop, the tick loop, commands through the trade path, events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import grpc

from dne.common.v1 import common_pb2
from dne.engine.v1 import engine_pb2
from dne.executor.v1 import executor_pb2_grpc
from dne.feed.v1 import feed_pb2_grpc
from dne.vault.v1 import vault_pb2, vault_pb2_grpc
from services.common import metrics
from services.common.decimals import to_wire
from services.common.errors import DomainError, ErrorCode
from services.common.market_clock import FeedClock
from services.common.timeutil import to_timestamp
from services.common.venue import AccountState, OrderKind, OrderResult, OrderStatus
from services.engine import commands, delta, outcome, reconcile, resume, snapshot
from services.engine.account import AccountView
from services.engine.auto_resume import AutoResume, NotYet
from services.engine.confirmations import ConfirmationBook
from services.engine.engine_state import EngineState, EngineStateFile, OpenEntry
from services.engine.events import EventBus
from services.engine.executor_orders import ExecutorOrders
from services.engine.health import HealthAlerter
from services.engine.hedged_entry import EntryJournal, HedgedEntry, HedgedExit, HedgeLegs
from services.engine.ledger import Ledger
from services.engine.outcome import Denial, Outcome, RecordedOrder
from services.engine.outcome_wire import command_result_proto
from services.engine.preflight import Preflight
from services.engine.session import Session, VaultMirror
from services.engine.settings import EngineSettings
from services.engine.trade_path import TradePath, discard_read, timed_hop
from services.engine.trade_request import TradeRequest
from services.engine.upstream import Upstream
from services.engine.vault_sync import SyncFailed, VaultSynchronizer

log = logging.getLogger(__name__)
K = common_pb2
E = engine_pb2
MODES = ("paper", "live")
# The vault dedups payments by id; re-asking an overlap makes a late settlement impossible to miss.
FUNDING_OVERLAP = timedelta(hours=2)
# A rebalance that did not trade is tried again after 1, 2, 4 ... minutes (never sooner than
# this, never later than the cooldown): each attempt is a vault trade and a venue call.
REBALANCE_BACKOFF_SEC = 60.0
# While the vault is known to be away its sync is tried this often, not once a tick: a restarted
# vault brings trading back within seconds.
VAULT_RECOVERY_INTERVAL_SEC = 1.0
# A resume waits (retrying) while one of these says a service is away; any other refusal is real.
UNREACHABLE = {ErrorCode.FEED_UNAVAILABLE, ErrorCode.VENUE_UNAVAILABLE,
               ErrorCode.VAULT_UNAVAILABLE}
Sleep = Callable[[float], Awaitable[None]]


class ResumeRefused(Exception):
    """A live resume found the venue and the records apart: a person decides."""

    def __init__(self, report: resume.ResumeReport) -> None:
        super().__init__(report.differences())
        self.report = report


class FundingEngine:
    def __init__(
        self,
        settings: EngineSettings,
        feed: feed_pb2_grpc.FeedServiceStub,
        executor: executor_pb2_grpc.ExecutorServiceStub,
        vault: vault_pb2_grpc.VaultServiceStub,
        *,
        market_clock: FeedClock | None = None,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        bus: EventBus | None = None,
    ) -> None:
        self.settings = settings
        self.upstream = Upstream(feed, executor, max_price_age_sec=settings.max_price_age_sec)
        self._vault = vault
        self.market_clock = market_clock or FeedClock(feed)
        self._sleep = sleep
        self.bus = bus or EventBus(settings.stream_queue_size)
        self._alerter = HealthAlerter(monotonic)
        self._monotonic = monotonic
        self._synchronizer = VaultSynchronizer(
            settings.vault_retry_delays, sleep, self._set_recovering
        )
        self._sync_lock = asyncio.Lock()
        # One command (both legs of a hedge) or one tick at a time: a rebalance is planned from
        # the account as the last command left it, never from a read taken before it landed.
        self._command_lock = asyncio.Lock()
        self._commands: set[asyncio.Task[E.CommandResult]] = set()
        self._stopping = False
        self._intents_unchecked = False
        self._state_file = EngineStateFile(settings.engine_state_path)
        self._state = EngineState()
        self.running = False
        self._session: Session | None = None   # the run under way; None while stopped
        # The account read started after the last fill of the command under way (see
        # _read_account_after_fill).
        self._after_fill: asyncio.Future[AccountView] | None = None
        # The account the last fill left, when the vault synced it with the fill's completion:
        # the sync after the trade is then already made.
        self._synced_after_fill: AccountView | None = None
        # Only a command of one leg syncs with its completion. Between the legs of a hedged
        # entry or exit the vault keeps the state from before the command: after a crash
        # there, the resume sees the half-done hedge against it (found by make sim, seed 949:
        # an exit's short closed and synced, the engine killed before the spot sale, and no
        # alert).
        self._sync_with_completion = False
        self.last_update: E.FundingUpdate | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._stop_loop = asyncio.Event()
        self._auto_resume: AutoResume | None = None
        self._reconciling = False   # a resume between its start and its verdict: nothing trades
        self.resume_report: resume.ResumeReport | None = None

    # --- the session ---------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._session.mode if self._session else ""

    @property
    def sub_account(self) -> int:
        return self._session.sub_account if self._session else self.settings.drift_sub_account

    @property
    def account(self) -> str:
        return self._session.account if self._session else ""

    @property
    def venue(self) -> str:
        return self._session.venue if self._session else ""

    @property
    def started_at(self) -> datetime | None:
        return self._session.started_at if self._session else None

    @property
    def _ledger(self) -> Ledger | None:
        return self._session.ledger if self._session else None

    @property
    def _trade_path(self) -> TradePath | None:
        return self._session.trade_path if self._session else None

    @property
    def _hedged_entry(self) -> HedgedEntry | None:
        return self._session.hedged_entry if self._session else None

    @property
    def _hedged_exit(self) -> HedgedExit | None:
        return self._session.hedged_exit if self._session else None

    @property
    def _mirror(self) -> VaultMirror:
        """The run's view of the vault: there is one only while a run is under way."""
        assert self._session is not None, "the vault mirror belongs to a run"
        return self._session.vault

    @property
    def sync_error(self) -> Denial | None:
        return self._session.vault.error if self._session else None

    @property
    def unknown_positions(self) -> list[str]:
        return self._session.vault.unknown_positions if self._session else []

    # --- state -------------------------------------------------------------------------------

    @property
    def last_rebalance(self) -> datetime | None:
        return self._state.last_rebalance

    @last_rebalance.setter
    def last_rebalance(self, moment: datetime | None) -> None:
        self._state.last_rebalance = moment

    def _save_state(self) -> None:
        try:
            self._state_file.save(self._state)
        except OSError:
            log.exception("engine state not saved", extra={"path": str(self._state_file.path)})

    @property
    def resuming(self) -> bool:
        return self._auto_resume is not None and self._auto_resume.active

    def blocked_reason(self) -> str:
        """Why trades are refused now (property 45), or "" when they may run."""
        if self._reconciling:
            return "resuming after a restart: reconciling with the venue"
        if not self.running:
            if self.resuming:
                assert self._auto_resume is not None
                return (f"resuming after a restart ({self._state.mode} mode, sub-account "
                        f"{self._state.sub_account}): "
                        + (f"waiting for {self._auto_resume.waiting_for}"
                           if self._auto_resume.waiting_for else "reconciling with the venue"))
            if self._state.stopped_reason:
                return f"the engine is stopped: {self._state.stopped_reason}"
            return "the engine is stopped"

        if self.sync_error is not None:
            return f"{self.sync_error.message}; run ResetVault"
        if self._mirror.recovering:
            return "re-syncing the vault after a failed sync"
        if self._ledger is not None and self._ledger.outbox:
            return f"{len(self._ledger.outbox)} trade outcome(s) wait to be written to the vault"
        if self._intents_unchecked:
            return "the vault's pending intents are not checked against the venue yet"
        if self._trade_path is not None and self._trade_path.unsure_intents:
            return (f"{len(self._trade_path.unsure_intents)} order intent(s) may be in the "
                    "vault unanswered; checking before any new trade")
        if self._trade_path is not None and self._trade_path.awaiting:
            return (f"{len(self._trade_path.awaiting)} order(s) await the venue's confirmation; "
                    "no new trade until they are final")
        return ""

    def leverage_limit(self) -> Decimal:
        return self.settings.leverage_limit(self.mode or "paper")

    def status(self) -> E.EngineStatus:
        blocked = self.blocked_reason() or self._entries_block()
        resuming = not self.running and self.resuming
        status = E.EngineStatus(
            running=self.running and not self._reconciling,
            mode=self.mode or (self._state.mode if resuming else ""),
            sub_account=self._state.sub_account if resuming else self.sub_account,
            account=self.account, trading_enabled=not blocked, blocked_reason=blocked,
            venue=self.venue, hedge_market=self.settings.hedge_market,
            max_leverage=to_wire(self.leverage_limit()),
        )
        if self.last_rebalance is not None:
            status.last_rebalance.CopyFrom(to_timestamp(self.last_rebalance))
        if self.started_at is not None:
            status.started_at.CopyFrom(to_timestamp(self.started_at))
        return status

    def _set_recovering(self, recovering: bool) -> None:
        if self._session is not None:
            self._session.vault.recovering = recovering

    # --- start / stop ------------------------------------------------------------------------

    async def start(self, mode: str, sub_account: int, request_id: str) -> E.CommandResult:
        action = commands.START_ENGINE
        if self.resuming:
            return self.publish_result(outcome.failure(request_id, action, DomainError(
                ErrorCode.ENGINE_ALREADY_RUNNING,
                f"the engine is resuming after a restart in {self._state.mode} mode on "
                f"sub-account {self._state.sub_account}; wait for it, or StopEngine first")))
        try:
            await self._start(mode, sub_account)
        except DomainError as error:
            log.warning("engine start refused", extra={"code": str(error.code),
                                                       "reason": error.message})
            return self.publish_result(outcome.failure(request_id, action, error))
        self._emit_status()
        unknown = (f"; the venue held positions the vault did not know: "
                   f"{', '.join(self.unknown_positions)}" if self.unknown_positions else "")
        return self.publish_result(outcome.success(
            request_id, action, f"engine running in {self.mode} mode on sub-account "
            f"{self.sub_account}" + (f"; trading blocked: {self.blocked_reason()}"
                                     if self.blocked_reason() else "") + unknown))

    async def _start(self, mode: str, sub_account: int, *, resuming: bool = False) -> None:
        if self.running:
            raise DomainError(ErrorCode.ENGINE_ALREADY_RUNNING,
                              f"the engine already runs in {self.mode} mode; stop it first")
        if mode not in MODES:
            raise DomainError(ErrorCode.INVALID_MODE,
                              f"mode must be 'paper' or 'live', found {mode[:20]!r}")
        venue = await self.upstream.venue_status()
        runs_paper = venue.venue == "paper"
        if mode == "live" and runs_paper:
            raise DomainError(ErrorCode.LIVE_MODE_UNAVAILABLE,
                              "live mode needs the executor's live driver (EXECUTOR_DRIVER=drift "
                              "with RPC_URL and a key); this executor runs the paper venue")
        if mode == "paper" and not runs_paper:
            raise DomainError(ErrorCode.FAILED_PRECONDITION,
                              f"paper mode needs the executor's paper venue, it runs "
                              f"{venue.venue!r}")
        started_at = await self._refresh_market_clock()
        account = venue.account or "paper-wallet"
        ledger = Ledger(self._vault, account, sub_account)
        opened = await ledger.open()
        known_before = list(opened.positions)
        self._session = self._new_session(mode, sub_account, account, venue.venue, started_at,
                                          ledger, VaultMirror(opened))
        self._state = self._state_file.load()
        unresolved = await ledger.unresolved() if resuming else []
        self._stopping = False
        self._reconciling = resuming
        self.running = True
        log.info("engine started", extra={"mode": mode, "sub_account": sub_account,
                                          "account": account, "resuming": resuming})
        # A crash may have left intents PENDING: settle them from the venue's record first
        # (until that is done, nothing trades: each tick tries again).
        self._intents_unchecked = True
        await self._check_pending_intents()
        if resuming:
            try:
                report = await self._reconcile_resume(ledger, unresolved, known_before)
            except BaseException:
                self._undo_start()
                raise
            if not report.clean and mode == "live":
                self._undo_start()
                raise ResumeRefused(report)
            self._reconciling = False
        # Hedged entries a restart interrupted are driven on to their end.
        async with self._command_lock:
            await self._advance_open_entries()
        if not self.running:  # a critical stop while driving an entry on: it stays stopped
            return
        # Property 31: the vault starts from the venue's own numbers.
        synced = await self._sync_vault()
        if synced is not None:
            if resuming:  # the resume's report has said it
                self._mirror.unknown_positions = list(self.resume_report.unknown_positions
                                                      if self.resume_report else [])
            else:
                self._report_unknown_positions(known_before, synced)
            await self._publish_update(synced)
        state = self._state
        state.started, state.mode, state.sub_account = True, mode, sub_account
        state.stopped_reason = ""
        if not resuming or state.started_at is None:  # a resume keeps the StartEngine's time
            state.started_at = started_at
        self._save_state()
        self._stop_loop = asyncio.Event()
        self._loop_task = asyncio.create_task(self._tick_loop(self._stop_loop),
                                              name="engine-tick-loop")

    def _new_session(self, mode: str, sub_account: int, account: str, venue: str,
                     started_at: datetime, ledger: Ledger, mirror: VaultMirror) -> Session:
        trade_path = TradePath(
            settings=self.settings, upstream=self.upstream, ledger=ledger,
            preflight=Preflight(self.settings, self.settings.leverage_limit(mode)),
            confirmations=ConfirmationBook(
                threshold_usd=self.settings.confirm_above_usd,
                valid_for_sec=self.settings.confirm_timeout_sec,
                price_tolerance=self.settings.slippage_tolerance,
                account=account, sub_account=sub_account, monotonic=self._monotonic),
            executor=ExecutorOrders(self.upstream.executor, sub_account,
                                    self.settings.vault_retry_delays, self._sleep),
            sub_account=sub_account, blocked_reason=self.blocked_reason,
            on_fill=self._read_account_after_fill,
            funding_since=self._funding_since, complete=self._complete_trade,
        )
        legs = HedgeLegs(
            trade_path=trade_path,
            account=lambda: self.upstream.account(sub_account, None),
            hedge_market=self.settings.hedge_market, reserved_sol=self.settings.reserved_sol,
            min_trade_size_sol=self.settings.min_trade_size_sol,
        )
        journal = EntryJournal(remember=self._remember_entry, forget=self._forget_entry,
                               is_open=lambda rid: rid in self._state.open_entries,
                               leg=trade_path.leg)
        return Session(mode, sub_account, account, venue, started_at, ledger, trade_path,
                       HedgedEntry(legs, journal, critical_stop=self._critical_stop),
                       HedgedExit(legs, alert=self._critical_alert), mirror)

    async def stop(self, request_id: str) -> E.CommandResult:
        was_resuming = self.resuming
        await self.cancel_resume()
        if not self.running:
            if was_resuming:
                self._forget_started("")
                self._emit_status()
                return self.publish_result(outcome.success(
                    request_id, commands.STOP_ENGINE,
                    "the resume after a restart is cancelled; the engine stays stopped"))
            return self.publish_result(outcome.failure(
                request_id, commands.STOP_ENGINE,
                DomainError(ErrorCode.ENGINE_NOT_RUNNING, "the engine is not running")))
        await self.shutdown()
        self._forget_started("")
        self._emit_status()
        return self.publish_result(
            outcome.success(request_id, commands.STOP_ENGINE, "engine stopped"))

    def _forget_started(self, why: str) -> None:
        """The engine will not resume by itself after a restart; `why` says what stopped it."""
        self._state.started, self._state.stopped_reason = False, why
        self._save_state()

    async def shutdown(self) -> None:
        """Refuses new commands, lets the current tick and every accepted command run to their
        end (a hedge is never cut between its legs), then stops. The state keeps `started`:
        the engine resumes when the system starts again."""
        await self.cancel_resume()
        self._stopping = True
        self._stop_loop.set()
        task, self._loop_task = self._loop_task, None
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=30)
            except TimeoutError:
                log.error("the tick loop did not stop in 30 s; it stops after its tick")
            except Exception:  # the loop logs its own errors
                log.exception("tick loop ended with an error")
        await self.settle_commands()
        self.running = False
        self._stopping = False
        self._session = None
        log.info("engine stopped")

    async def settle_commands(self) -> None:
        """Waits until every accepted command has reached its end."""
        while self._commands:
            await asyncio.gather(*list(self._commands), return_exceptions=True)

    def _halt(self, why: str) -> None:
        """Stops trading at once, from inside a command: its own end is not waited for. A
        critical stop is never resumed by a restart (a crash-loop would re-enter the condition
        that stopped it): a person starts the engine again."""
        self.running = False
        self._stop_loop.set()
        self._loop_task = None
        self._forget_started(f"critical stop: {why}")

    def _undo_start(self) -> None:
        """A resume attempt that cannot finish leaves the engine as it found it: stopped."""
        self.running = self._reconciling = False
        self._session = None

    # --- resuming after a restart ------------------------------------------------------------

    def resume_if_started(self) -> bool:
        """At process start: when the saved state says the engine ran, it resumes in the
        background (the server answers meanwhile). True when a resume began."""
        try:
            saved = self._state_file.load()
        except (OSError, ValueError, TypeError):
            log.exception("engine state unreadable; the engine stays stopped",
                          extra={"path": str(self._state_file.path)})
            return False
        self._state = saved
        if not saved.started:
            return False
        log.info("resuming after a restart", extra={
            "mode": saved.mode, "sub_account": saved.sub_account})
        self._auto_resume = AutoResume(
            lambda: self._resume_once(saved.mode, saved.sub_account), self._sleep)
        self._auto_resume.begin()
        return True

    async def wait_resumed(self) -> None:
        """Until the resume begun at start has ended (resumed, refused or cancelled)."""
        if self._auto_resume is not None:
            await self._auto_resume.wait()

    @property
    def resume_attempts(self) -> int:
        return self._auto_resume.attempts if self._auto_resume is not None else 0

    async def cancel_resume(self) -> None:
        """Stops a resume under way (after its current attempt); the state keeps `started`."""
        if self._auto_resume is not None:
            await self._auto_resume.cancel()

    async def _resume_once(self, mode: str, sub_account: int) -> None:
        """One attempt: NotYet while a service is away; otherwise resumed, or refused with the
        reason recorded, alerted and shown in the status."""
        request_id = f"resume-{uuid.uuid4().hex}"
        try:
            await self._start(mode, sub_account, resuming=True)
        except (DomainError, grpc.RpcError) as error:
            if self.running:  # cut off after it began: the next attempt begins afresh
                self._undo_start()
            if isinstance(error, grpc.RpcError):
                raise NotYet(f"an upstream call failed: {error}") from None
            if error.code in UNREACHABLE:
                raise NotYet(error.message) from None
            self._refuse_resume(request_id, error.message, error.code)
            return
        except ResumeRefused as refused:
            self._refuse_resume(request_id, f"live resume refused: {refused.report.differences()}",
                                ErrorCode.FAILED_PRECONDITION)
            return
        except Exception as error:  # a fault of ours: stopped and said loudly, never silent
            log.exception("resume failed")
            if self.running:
                await self.shutdown()
            self._undo_start()
            self._refuse_resume(request_id, f"resume failed: {error!r}", ErrorCode.INTERNAL)
            return
        if not self.running:  # a critical stop during the resume has said why
            return
        report = self.resume_report
        summary = report.summary() if report is not None else ""
        if report is not None and not report.clean:
            self._warn(f"resumed in paper mode after a restart, with differences: "
                       f"{report.differences()}")
        self._emit_status()
        self.publish_result(outcome.success(
            request_id, commands.START_ENGINE,
            f"engine resumed after a restart in {mode} mode on sub-account {sub_account}; "
            + summary))

    def _refuse_resume(self, request_id: str, why: str, code: str) -> None:
        """Stays stopped, clears nothing in the vault, and says why loudly."""
        log.critical("resume refused", extra={"reason": why})
        self._forget_started(why)
        self.bus.emit(E.EVENT_TYPE_HEALTH_ALERT, E.HealthAlert(
            level="CRITICAL", health="", message=f"the engine did not resume after a restart: "
                                                 f"{why}; check the venue, then StartEngine"))
        self._emit_status()
        self.publish_result(outcome.failure(request_id, commands.START_ENGINE,
                                           DomainError(code, why)))

    async def _reconcile_resume(self, ledger: Ledger, unresolved: list[RecordedOrder],
                                known: list[vault_pb2.VaultPosition]) -> resume.ResumeReport:
        """Gathers what the venue, the vault and the state say, after the pending intents were
        settled from the venue's record."""
        if self._intents_unchecked:
            raise DomainError(ErrorCode.VENUE_UNAVAILABLE,
                              "the pending intents cannot be checked against the venue yet")
        if self._trade_path is not None and self._trade_path.awaiting:
            # Asked once more as a tick would: an outcome the venue cannot tell is written
            # UNKNOWN (and alerted); one it has not decided yet stays PENDING.
            async with self._command_lock:
                await self._resolve_awaiting()
        resolved = []
        for record in unresolved:
            intent = record.order
            now = await ledger.find(intent.client_order_id)
            resolved.append(resume.ResolvedIntent(
                intent.client_order_id, intent.kind, intent.market,
                now.status if now is not None else intent.status))
        in_flight = sum(1 for intent in resolved if intent.status is OrderStatus.PENDING)
        if in_flight:  # the venue has not decided yet: the resume waits for its word
            raise DomainError(ErrorCode.VENUE_UNAVAILABLE,
                              f"{in_flight} order(s) sent before the restart still await the "
                              "venue's confirmation")
        recorded = self._state.balances
        since = (recorded.as_of - FUNDING_OVERLAP
                 if recorded is not None and recorded.as_of is not None else None)
        venue = await self.upstream.account(self.sub_account, since)
        vault_balance = self._mirror.status.balance
        report = resume.reconcile_resume(known=known, venue=venue.state, recorded=recorded,
                                         resolved=resolved, vault_balance=vault_balance)
        self.resume_report = report
        # The report has said these: the first sync does not say them again.
        self._mirror.closed_since_sync.update(item.split(" ", 1)[0]
                                       for item in report.vanished_positions)
        log.info("resume reconciliation", extra={"summary": report.summary(),
                                                 "clean": report.clean})
        return report

    # --- the tick ----------------------------------------------------------------------------

    async def _tick_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            interval = self.settings.tick_interval_sec
            if self.sync_error is not None:
                interval = min(interval, VAULT_RECOVERY_INTERVAL_SEC)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
            if stop.is_set():
                return
            try:
                await self.tick()
            except Exception:
                log.exception("engine tick failed")

    async def tick(self) -> None:
        """One pass: flush the outbox, settle what awaits the venue, sync the vault, publish,
        alert, rebalance. What trades (settling legs, rebalancing) holds the command lock and
        decides from what it reads under it; reading and publishing do not hold commands up."""
        if not self.running:
            return
        await self._flush_outbox()
        if self._outcomes_to_settle():
            async with self._command_lock:
                await self._resolve_awaiting()
                await self._advance_open_entries()
        if not self.running:
            return
        account = await (self._sync_vault() if self.sync_error is None
                         else self._recover_vault())
        if account is None:
            try:
                account = await self.upstream.account(self.sub_account, None)
            except DomainError as error:
                log.warning("no account state this tick", extra={"reason": error.message})
                return
        await self._publish_update(account)
        if not self.blocked_reason() and not self._entries_block():
            await self._auto_rebalance(account)

    def _outcomes_to_settle(self) -> bool:
        path = self._trade_path
        return bool(self._intents_unchecked or self._state.open_entries or (
            path is not None and (path.awaiting or path.unsure_intents)))

    async def _check_pending_intents(self) -> None:
        assert self._trade_path is not None
        try:
            await self._trade_path.resolve_pending_intents()
        except DomainError as error:
            log.warning("pending intents not resolved yet", extra={"reason": error.message})
            return
        self._intents_unchecked = False

    def _entries_block(self) -> str:
        """Open hedged entries hold new commands and rebalances back (not their own legs)."""
        if not self._state.open_entries:
            return ""
        return (f"{len(self._state.open_entries)} hedged entr"
                f"{'y' if len(self._state.open_entries) == 1 else 'ies'} not yet at its end: "
                f"{', '.join(sorted(self._state.open_entries))}")

    async def _resolve_awaiting(self) -> None:
        if self._trade_path is None:
            return
        if self._intents_unchecked:
            await self._check_pending_intents()
        if self._trade_path.unsure_intents:
            try:
                await self._trade_path.settle_unsure_intents()
            except DomainError as error:
                log.warning("unanswered intents not checked", extra={"reason": error.message})
        if not self._trade_path.awaiting:
            return
        try:
            resolved = await self._trade_path.resolve_awaiting()
        except DomainError as error:
            log.warning("orders awaiting confirmation not resolved", extra={
                "reason": error.message})
            return
        for _request, result in resolved:
            self._alert_if_unknown(result)
            self.publish_result(result)

    async def _advance_open_entries(self) -> None:
        """Hedged entries with a leg that was awaiting the venue move on once it is final."""
        if self._hedged_entry is None:
            return
        for entry in list(self._state.open_entries.values()):
            if not self.running:
                return
            try:
                result = await self._hedged_entry.advance(entry)
            except DomainError as error:
                log.warning("hedged entry not advanced", extra={
                    "request_id": entry.request_id, "reason": error.message})
                continue
            if result is not None:
                self._alert_if_unknown(result)
                self.publish_result(result)

    def _remember_entry(self, entry: OpenEntry) -> None:
        self._state.open_entries[entry.request_id] = entry
        self._save_state()

    def _forget_entry(self, request_id: str) -> None:
        if self._state.open_entries.pop(request_id, None) is not None:
            self._save_state()

    def _alert_if_unknown(self, result: Outcome) -> None:
        """Property 42: the user verifies an unknown transaction by its signature."""
        order = result.order
        if order is None or order.status is not OrderStatus.UNKNOWN:
            return
        signature = order.tx_signature or order.error_details.get(
            "tx_signature", "") or "(no signature)"
        self.bus.emit(E.EVENT_TYPE_HEALTH_ALERT, E.HealthAlert(
            level="CRITICAL", health="", message=(
                f"the outcome of {result.action} is unknown after every confirmation attempt; "
                f"verify transaction {signature} on an explorer before trading again")))

    async def _flush_outbox(self) -> None:
        if self._ledger is None or not self._ledger.outbox:
            return
        try:
            written = await self._ledger.flush_outbox()
            log.info("vault outbox flushed", extra={"written": written})
        except DomainError as error:
            log.warning("vault outbox still waiting", extra={"reason": error.message})

    # --- vault sync --------------------------------------------------------------------------

    async def _read_account(self) -> AccountView:
        return await self.upstream.account(self.sub_account, self._funding_since())

    def _funding_since(self) -> datetime | None:
        """Where an account read's funding payments start: a little before the last sync."""
        synced = self._mirror.last_synced_as_of
        return synced - FUNDING_OVERLAP if synced else None

    async def _push_to_vault(self, account: AccountView, *, patient: bool = False) -> AccountView:
        assert self._ledger is not None
        ledger = self._ledger
        reply = await self._recording_balances(
            account, lambda: ledger.sync(account.state, patient=patient))
        assert reply is not None  # a sync alone answers or raises
        self._synced(account, reply)
        return account

    async def _recording_balances(
        self, account: AccountView,
        sync: Callable[[], Awaitable[vault_pb2.SyncAccountResponse | None]],
    ) -> vault_pb2.SyncAccountResponse | None:
        """`sync()`, while the balances a resume compares the venue with go to disk."""
        recording = asyncio.ensure_future(self._record_balances(account))
        try:
            answer = await sync()
        except BaseException:
            recording.add_done_callback(lambda done: done.cancelled() or done.exception())
            raise
        await recording
        return answer

    def _synced(self, account: AccountView, reply: vault_pb2.SyncAccountResponse) -> None:
        mirror = self._mirror
        self._report_vanished_positions(mirror.status.positions, account)
        mirror.status = reply.status
        mirror.last_synced_as_of = account.as_of or mirror.last_synced_as_of

    async def _complete_trade(
        self, request_id: str, order: OrderResult, settlement: OrderResult | None,
        state: AccountState | None,
    ) -> None:
        """An order's outcome. With the account its fill left (the executor's answer carried
        it) and a vault in step (nothing kept, no sync error), that account is synced in the
        same call, under the sync lock like any sync, so a tick's older read never lands
        after it."""
        assert self._ledger is not None
        ledger = self._ledger
        if (state is None or not self._sync_with_completion or ledger.outbox
                or self.sync_error is not None):
            await ledger.complete(request_id, order, settlement)
            return
        if order.kind is OrderKind.PERP_CLOSE:
            # Ours: the sync below must not report its position as vanished.
            self._mirror.closed_since_sync.add(order.market)
        async with self._sync_lock:
            account = AccountView(state)
            reply = await self._recording_balances(account, lambda: ledger.complete_and_sync(
                request_id, order, settlement, state))
            if reply is not None:
                self._synced(account, reply)
                self._synced_after_fill = account

    async def _record_balances(self, account: AccountView) -> None:
        """What a resume compares the venue with (the venue's, whatever the vault answers);
        written only when an amount moved."""
        balances = resume.balances_of(account.state)
        if self._state.balances is None or replace(balances, as_of=None) != replace(
                self._state.balances, as_of=None):
            self._state.balances = balances
            try:
                await self._state_file.save_aside(self._state)
            except OSError:
                log.exception("engine state not saved",
                              extra={"path": str(self._state_file.path)})

    async def _sync_once(self, *, patient: bool = False) -> AccountView:
        return await self._push_to_vault(await self._read_account(), patient=patient)

    async def _sync_vault(
        self, reading: asyncio.Future[AccountView] | None = None
    ) -> AccountView | None:
        """Sync with retries; after the last one, VAULT_SYNC_ERROR and trading disabled.
        `reading`: an account read already under way, used instead of a new one.

        A venue that cannot be read is not a vault failure: the sync waits for the next tick
        (the venue gate blocks trades meanwhile, and the executor re-syncs on reconnecting)."""
        async with self._sync_lock:
            try:
                account = await (reading or self._read_account())
            except DomainError as error:
                log.warning("venue state unavailable; the vault sync waits for it",
                            extra={"reason": error.message})
                return None
            async def push() -> AccountView:
                return await self._push_to_vault(account)

            try:
                return await self._synchronizer.run(push)
            except SyncFailed as failure:
                error = self._mirror.error = Denial(
                    ErrorCode.VAULT_SYNC_ERROR,
                    f"vault sync failed after {failure.attempts} attempts "
                    f"({failure.last_error})")
                self.bus.emit(E.EVENT_TYPE_VAULT_SYNC_ERROR, E.VaultSyncError(
                    attempts=failure.attempts,
                    error=common_pb2.Error(code=error.code, message=error.message)))
                self._emit_status()
                return None

    async def _recover_vault(self) -> AccountView | None:
        """A vault that failed every retry is tried again, once, each time round: when it
        answers (restarted), trading comes back by itself. ResetVault does the same at once."""
        if self._ledger is not None and self._ledger.outbox:
            return None  # the outbox is written first; the tick flushes it
        try:
            async with self._sync_lock:
                account = await self._sync_once(patient=True)
        except (DomainError, grpc.RpcError) as error:
            log.info("the vault is still away", extra={
                "reason": getattr(error, "message", str(error))})
            return None
        self._mirror.error = None
        log.warning("the vault answers again: re-synced, trading enabled")
        self._emit_status()
        return account

    async def reset_vault(self, request_id: str) -> E.CommandResult:
        action = commands.RESET_VAULT
        if not self.running or self._ledger is None:
            return self.publish_result(outcome.failure(request_id, action, DomainError(
                ErrorCode.ENGINE_NOT_RUNNING, "the engine is not running")))
        try:
            await self._ledger.flush_outbox(patient=True)
            async with self._sync_lock:
                account = await self._sync_once(patient=True)
        except (DomainError, grpc.RpcError) as error:
            message = getattr(error, "message", str(error))
            log.error("vault reset failed", extra={"reason": message}, exc_info=error)
            return self.publish_result(outcome.failure(request_id, action, DomainError(
                ErrorCode.VAULT_SYNC_ERROR, f"vault reset failed: {message}")))
        self._mirror.error = None
        self._emit_status()
        await self._publish_update(account)
        return self.publish_result(outcome.success(request_id, action,
                                           "vault re-synced from the venue; trading enabled"))

    # --- commands ----------------------------------------------------------------------------

    async def trade(self, request: TradeRequest) -> E.CommandResult:
        if not self.running or self._stopping or self._trade_path is None:
            why = "is stopping" if self._stopping else "is not running: StartEngine first"
            return self.publish_result(outcome.failure(
                request.request_id, request.action, DomainError(
                    ErrorCode.ENGINE_NOT_RUNNING, f"the engine {why}")))
        blocked = self.blocked_reason() or self._entries_block()
        if blocked:  # said at once, not after the tick that holds the lock (property 45)
            return self.publish_result(outcome.failure(
                request.request_id, request.action, DomainError(
                    ErrorCode.TRADING_DISABLED, f"trading is disabled: {blocked}")))
        # An accepted command runs to its end whatever happens to its caller: a cancelled
        # handler (the gateway's deadline, a closed connection) must not cut it between legs.
        task = asyncio.create_task(self._trade(request), name=f"command {request.request_id}")
        self._commands.add(task)
        task.add_done_callback(self._commands.discard)
        return await asyncio.shield(task)

    async def _trade(self, request: TradeRequest) -> E.CommandResult:
        async with self._command_lock:
            return await self._trade_locked(request)

    async def _trade_locked(self, request: TradeRequest) -> E.CommandResult:
        self._forget_read_after_fill()  # only this command's own fills count
        if self._trade_path is not None:
            self._trade_path.hedge_price = None  # and only this command's own price
        if not self.running or self._trade_path is None:
            return self.publish_result(outcome.failure(
                request.request_id, request.action, DomainError(
                    ErrorCode.ENGINE_NOT_RUNNING, "the engine stopped")))
        if self._entries_block():
            return self.publish_result(outcome.failure(
                request.request_id, request.action, DomainError(
                    ErrorCode.TRADING_DISABLED,
                    f"trading is disabled: {self._entries_block()}")))
        if self._hedged_entry is not None and self._hedged_entry.applies_to(request):
            result = await self._hedged_entry.open(request)
        elif self._hedged_exit is not None and self._hedged_exit.applies_to(request):
            result = await self._hedged_exit.close(request)
        else:
            self._sync_with_completion = True
            try:
                result = await self._trade_path.execute(request)
            finally:
                self._sync_with_completion = False
        self._alert_if_unknown(result)
        if result.ok and result.order is not None and result.order.kind is OrderKind.PERP_CLOSE:
            self._mirror.closed_since_sync.add(result.order.market or request.market)
        if result.ok and not result.replayed and self.running:
            with timed_hop("publish"):
                await self._after_trade()
        else:
            self._forget_read_after_fill()
        return self.publish_result(result)

    def _read_account_after_fill(self, account: AccountState | None = None) -> None:
        """The account a fill changed: as the executor's answer carried it, or else read while
        the vault records the fill. The sync after the trade uses it instead of asking again.
        The last fill's is the one kept (a hedged entry fills twice)."""
        self._forget_read_after_fill()
        if account is not None:
            self._after_fill = asyncio.get_running_loop().create_future()
            self._after_fill.set_result(AccountView(account))
        else:
            self._after_fill = asyncio.ensure_future(self._read_account())

    def _forget_read_after_fill(self) -> None:
        self._synced_after_fill = None
        if self._after_fill is not None:
            discard_read(self._after_fill)
            self._after_fill = None

    def _report_unknown_positions(
        self, known: list, account: AccountView  # type: ignore[type-arg]
    ) -> None:
        """Positions the venue holds that the vault did not know are reported, never ignored."""
        surprises = reconcile.unknown_positions(known, account.state.positions)
        self._mirror.unknown_positions = surprises
        if surprises:
            self._warn("the venue holds positions the vault did not know: "
                       + ", ".join(surprises) + "; they are now in the vault: check them")

    def _report_vanished_positions(self, known: list, account: AccountView) -> None:  # type: ignore[type-arg]
        """A position the vault held and the venue dropped without a close of ours is news a
        trader must hear (a liquidation, a close elsewhere), not a row silently deleted."""
        closed = self._mirror.closed_since_sync
        vanished = reconcile.vanished_positions(known, account.state.positions, closed)
        closed.clear()
        if vanished:
            self._warn("the venue no longer holds positions the vault had, and the engine did "
                       "not close them: " + ", ".join(vanished) + "; liquidated or closed "
                       "outside the engine? check the venue")

    def _warn(self, message: str) -> None:
        self._alert(logging.WARNING, "hedge warning", message)

    def _critical_alert(self, message: str) -> None:
        self._alert(logging.CRITICAL, "unhedged leg", message)

    def _alert(self, level: int, event: str, message: str) -> None:
        """Logged, and sent to every dashboard as a HEALTH_ALERT of the same level."""
        log.log(level, event, extra={"reason": message})
        self.bus.emit(E.EVENT_TYPE_HEALTH_ALERT, E.HealthAlert(
            level=logging.getLevelName(level), health="", message=message))

    async def _critical_stop(self, message: str) -> None:
        """One leg without the other: stop, say so loudly, and wait for a human."""
        self._alert(logging.CRITICAL, "critical stop", message)
        self._halt(message)
        self._emit_status()

    async def _after_trade(self) -> None:
        """Sync the vault and publish the new state (unless the vault is known to be away),
        from the account read started after the last fill when there is one."""
        assert self._ledger is not None
        after_fill, self._after_fill = self._after_fill, None
        synced, self._synced_after_fill = self._synced_after_fill, None
        # The hedge price the update shows: the one this command's gates read, or else read
        # while the vault syncs (a read, in parallel).
        known = self._trade_path.hedge_price if self._trade_path is not None else None
        price: asyncio.Future[Decimal]
        if known is not None:
            price = asyncio.get_running_loop().create_future()
            price.set_result(known)
        else:
            price = asyncio.ensure_future(self.upstream.price(self.settings.hedge_market))
        account: AccountView | None = None
        try:
            if synced is not None:
                account = synced  # the vault synced it with the fill's completion
            elif not self._ledger.outbox and self.sync_error is None:
                account = await self._sync_vault(after_fill)
                after_fill = None
            if account is None:
                account = await self.upstream.account(self.sub_account, None)
        except DomainError:
            discard_read(price)
            return
        except BaseException:
            discard_read(price)
            raise
        finally:
            if after_fill is not None:
                discard_read(after_fill)
        await self._publish_update(account, price)

    def publish_result(self, result: Outcome) -> E.CommandResult:
        """Every command's answer goes to the event stream too, as the CommandResult its caller
        receives."""
        message = command_result_proto(result)
        self.bus.emit(E.EVENT_TYPE_COMMAND_RESULT, message)
        return message

    # --- rebalancing -------------------------------------------------------------------------

    def _plan(self, account: AccountView, now: datetime) -> delta.RebalancePlan:
        settings = self.settings
        return delta.plan_rebalance(
            spot_sol=account.wallet_sol,
            perp_sol=account.signed_size(settings.hedge_market),
            reserved_sol=settings.reserved_sol,
            tolerance_pct=settings.drift_tolerance_pct,
            min_trade_size_sol=settings.min_trade_size_sol,
            now=now,
            last_rebalance=self.last_rebalance,
            cooldown_sec=settings.rebalance_cooldown_sec,
        )

    async def _auto_rebalance(self, account: AccountView) -> None:
        now = await self._market_now()
        retry_at = self._state.rebalance_retry_at
        if retry_at is not None and now < retry_at:
            return  # backing off after a rebalance that did not trade
        if not self._plan(account, now).actionable:
            return
        # The tick's read says "rebalance": plan again under the command lock from the account
        # as it is now, so a command that landed meanwhile is neither undone nor doubled.
        async with self._command_lock:
            if self.blocked_reason() or self._entries_block():
                return
            try:
                fresh = await self.upstream.account(self.sub_account, None)
            except DomainError as error:
                log.warning("no account to plan the rebalance on", extra={
                    "reason": error.message})
                return
            plan = self._plan(fresh, now)
            if plan.actionable:
                await self._rebalance(plan, f"rebalance-{uuid.uuid4().hex}")

    async def check_rebalance(
        self, simulate: bool, request_id: str
    ) -> tuple[E.RebalancePlan, E.CommandResult | None]:
        if not self.running:
            raise DomainError(ErrorCode.ENGINE_NOT_RUNNING, "the engine is not running")
        async with self._command_lock:
            account = await self.upstream.account(self.sub_account, None)
            plan = self._plan(account, await self._market_now())
            if simulate or not plan.actionable or not self.running:
                return snapshot.rebalance_plan(plan), None
            result = await self._rebalance(plan, request_id or f"rebalance-{uuid.uuid4().hex}")
        return snapshot.rebalance_plan(plan), self.publish_result(result)

    async def _rebalance(self, plan: delta.RebalancePlan, request_id: str) -> Outcome:
        """Sends the correction through the trade path. A rebalance that was sent (filled, or
        still awaiting the venue) starts the cooldown; one that did not trade backs off."""
        assert self._trade_path is not None
        self._forget_read_after_fill()  # only this correction's own fill counts
        planned_at = await self._market_now()
        request = plan.request(request_id, self.settings.hedge_market)
        log.info("rebalancing", extra={"action": plan.action, "size": str(plan.correction_size),
                                       "drift_pct": str(plan.drift_pct)})
        result = await self._trade_path.execute(request)
        metrics.REBALANCES.labels(result="success" if result.ok else "failed").inc()
        self._alert_if_unknown(result)
        # The cooldown runs from when the correction was done: market time can move while it
        # is on its way (a replay jump, a slow confirmation; found by make sim, seed 5714).
        self._note_rebalance(result, max(planned_at, await self._market_now()))
        self.bus.emit(E.EVENT_TYPE_REBALANCE, E.RebalanceEvent(
            plan=snapshot.rebalance_plan(plan), result=command_result_proto(result)))
        if result.ok:
            await self._after_trade()
        else:
            self._forget_read_after_fill()
        return result

    def _note_rebalance(self, result: Outcome, planned_at: datetime) -> None:
        sent = (result.ok or result.code == ErrorCode.ORDER_PENDING
                or result.status is OrderStatus.UNKNOWN)
        state = self._state
        if sent:
            state.last_rebalance, state.rebalance_failures = planned_at, 0
            state.rebalance_retry_at = None
        else:
            state.rebalance_failures += 1
            wait = min(REBALANCE_BACKOFF_SEC * 2 ** (state.rebalance_failures - 1),
                       max(self.settings.rebalance_cooldown_sec, REBALANCE_BACKOFF_SEC))
            state.rebalance_retry_at = planned_at + timedelta(seconds=wait)
            log.warning("rebalance did not trade; backing off", extra={
                "failures": state.rebalance_failures, "retry_in_sec": wait,
                "code": result.code})
        self._save_state()

    # --- publishing --------------------------------------------------------------------------

    async def _refresh_market_clock(self) -> datetime:
        try:
            return await self.market_clock.refresh()
        except grpc.RpcError:
            raise DomainError(ErrorCode.FEED_UNAVAILABLE,
                              "the feed's market clock is unreachable") from None

    async def _market_now(self) -> datetime:
        """Asks the feed every time: a cached answer extrapolated across a replay jump would
        start (or end) a cooldown at the wrong market time."""
        try:
            return await self.market_clock.refresh()
        except grpc.RpcError:
            try:
                return self.market_clock.cached_now()
            except RuntimeError:
                return datetime.now(UTC)

    async def _publish_update(
        self, account: AccountView, price: Awaitable[Decimal] | None = None
    ) -> None:
        """`price`: the hedge market's price already asked for; else it is asked here."""
        hedge = self.settings.hedge_market
        try:
            sol_price: Decimal | None = await (price or self.upstream.price(hedge))
        except DomainError:
            position = account.position(hedge)
            sol_price = position.mark_price if position and position.mark_price else None
        update = snapshot.funding_update(
            account=account, hedge_market=hedge, reserved_sol=self.settings.reserved_sol,
            sol_price=sol_price, vault_status=self._mirror.status, mode=self.mode,
            blocked_reason=self.blocked_reason(),
            moment=account.as_of or await self._market_now(),
        )
        self.last_update = update
        self.bus.emit(E.EVENT_TYPE_FUNDING_UPDATE, update)
        self._record_state(account, update)
        # Health is about liquidation: with no margin requirement nothing can be liquidated,
        # whatever number the venue reports for an empty account.
        at_risk = account.maintenance_margin > 0
        alert = self._alerter.observe(account.health if at_risk else Decimal(100))
        if alert is not None:
            log.warning("health alert", extra={"level": alert.level,
                                               "health_ratio": str(alert.health)})
            self.bus.emit(E.EVENT_TYPE_HEALTH_ALERT, E.HealthAlert(
                level=alert.level, health=to_wire(alert.health), message=alert.message))

    def _record_state(self, account: AccountView, update: E.FundingUpdate) -> None:
        label = str(self.sub_account)
        metrics.HEALTH_RATIO.labels(sub_account=label).set(float(account.health))
        metrics.LEVERAGE.labels(sub_account=label).set(float(account.leverage))
        metrics.NET_DELTA.labels(sub_account=label).set(float(update.net_delta or 0))
        metrics.DRIFT_PCT.labels(sub_account=label).set(float(update.drift_pct or 0))
        metrics.COLLATERAL.labels(sub_account=label).set(float(account.collateral))
        metrics.FUNDING_RECEIVED.labels(sub_account=label).set(float(update.funding_received or 0))
        log.info("account state", extra={
            "health_ratio": update.health, "leverage": update.leverage,
            "total_collateral": update.total_collateral,
            "free_collateral": update.free_collateral, "net_delta": update.net_delta,
            "drift_pct": update.drift_pct,
        })

    def _emit_status(self) -> None:
        self.bus.emit(E.EVENT_TYPE_ENGINE_STATUS, self.status())
