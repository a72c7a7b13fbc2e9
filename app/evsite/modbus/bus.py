"""One Modbus line (RS-485 port or TCP endpoint): serialized requests, gaps, timeouts, retries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient, ModbusBaseClient
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.pdu import ModbusPDU

from evsite.clock import Clock
from evsite.modbus.registers import MAX_READ_REGISTERS, Function

log = logging.getLogger(__name__)

#: Bits on the wire per RTU character: start + 8 data + parity or 2nd stop + stop.
BITS_PER_CHAR = 11


class BusError(Exception):
    """A request on the bus failed; `kind` names the failure for counters."""

    kind = "bus"


class BusTimeout(BusError):
    """No answer within the timeout (after all retries)."""

    kind = "timeout"


class BusGarbled(BusError):
    """Bytes arrived but no valid frame: CRC error, truncated or wrong-size answer."""

    kind = "crc"


class BusExceptionResponse(BusError):
    """The device answered with a Modbus exception code."""

    kind = "exception"

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class BusDisconnected(BusError):
    """The port could not be opened or the TCP connection could not be made."""

    kind = "disconnected"


@dataclass(frozen=True)
class BusSettings:
    """Timing and retry policy of one bus."""

    timeout_s: float = 0.5
    retries: int = 1
    #: Silence kept between the end of one transaction and the next request.
    #: None derives it from the baud rate: 3.5 character times (1.75 ms fixed
    #: above 19200 baud, as the Modbus serial line spec says) plus `margin_s`.
    inter_frame_s: float | None = None
    margin_s: float = 0.002

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if self.retries < 0:
            raise ValueError("retries must be 0 or more")
        if self.inter_frame_s is not None and self.inter_frame_s < 0:
            raise ValueError("inter_frame_s must be 0 or more")
        if self.margin_s < 0:
            raise ValueError("margin_s must be 0 or more")


def rtu_gap_s(baudrate: int) -> float:
    """The minimum RTU inter-frame silence (3.5 characters; 1.75 ms above 19200 baud)."""
    if baudrate > 19200:
        return 0.00175
    return 3.5 * BITS_PER_CHAR / baudrate


class _RxProbe:
    """Remembers how many bytes arrived for the current request."""

    def __init__(self) -> None:
        self.bytes_seen = 0

    def trace(self, sending: bool, data: bytes) -> bytes:
        """pymodbus trace_packet hook: note received bytes, pass data through unchanged."""
        if not sending:
            self.bytes_seen = max(self.bytes_seen, len(data))
        return data


class ModbusBus:
    """Serializes every request on one line; several meters with different unit ids share it."""

    def __init__(
        self,
        client: ModbusBaseClient,
        *,
        name: str,
        clock: Clock,
        settings: BusSettings,
        gap_s: float,
        probe: _RxProbe | None = None,
    ) -> None:
        self.name = name
        self._client = client
        self._clock = clock
        self._settings = settings
        self.gap_s = gap_s
        self._lock = asyncio.Lock()
        self._next_send_at = 0.0
        # Seeing the receive buffer is how a CRC-failed frame (which pymodbus drops
        # silently, leaving only a timeout) is told apart from plain silence.
        self._probe = probe or _RxProbe()
        self.counters: dict[str, int] = {
            "requests": 0,
            "ok": 0,
            "timeout": 0,
            "crc": 0,
            "exception": 0,
            "disconnected": 0,
            "retries": 0,
        }

    @classmethod
    def rtu(
        cls,
        port: str,
        *,
        clock: Clock,
        baudrate: int = 9600,
        parity: str = "N",
        stopbits: int = 1,
        settings: BusSettings | None = None,
        name: str | None = None,
    ) -> ModbusBus:
        """A bus on a serial port (RS-485) speaking Modbus RTU."""
        settings = settings or BusSettings()
        if parity not in ("N", "E", "O"):
            raise ValueError(f"parity must be N, E or O, not {parity!r}")
        if stopbits not in (1, 2):
            raise ValueError(f"stopbits must be 1 or 2, not {stopbits!r}")
        if baudrate <= 0:
            raise ValueError(f"baudrate must be positive, not {baudrate!r}")
        probe = _RxProbe()
        client = AsyncModbusSerialClient(
            port,
            baudrate=baudrate,
            parity=parity,
            stopbits=stopbits,
            bytesize=8,
            timeout=settings.timeout_s,
            retries=0,
            reconnect_delay=0,
            name=name or port,
            trace_packet=probe.trace,
        )
        gap = settings.inter_frame_s
        if gap is None:
            gap = rtu_gap_s(baudrate) + settings.margin_s
        return cls(
            client, name=name or port, clock=clock, settings=settings, gap_s=gap, probe=probe
        )

    @classmethod
    def tcp(
        cls,
        host: str,
        port: int = 502,
        *,
        clock: Clock,
        settings: BusSettings | None = None,
        name: str | None = None,
    ) -> ModbusBus:
        """A bus to one Modbus TCP endpoint (a meter or a gateway with several unit ids)."""
        settings = settings or BusSettings()
        probe = _RxProbe()
        client = AsyncModbusTcpClient(
            host,
            port=port,
            timeout=settings.timeout_s,
            retries=0,
            reconnect_delay=0,
            name=name or f"{host}:{port}",
            trace_packet=probe.trace,
        )
        gap = settings.inter_frame_s if settings.inter_frame_s is not None else 0.0
        return cls(
            client,
            name=name or f"{host}:{port}",
            clock=clock,
            settings=settings,
            gap_s=gap,
            probe=probe,
        )

    async def read(self, unit_id: int, function: Function, address: int, count: int) -> list[int]:
        """Read `count` registers; raises a BusError subclass on failure."""
        if not 0 <= unit_id <= 255:
            raise ValueError(f"unit id {unit_id} out of range 0..255")
        if not 1 <= count <= MAX_READ_REGISTERS:
            raise ValueError(f"count {count} out of range 1..{MAX_READ_REGISTERS}")
        async with self._lock:
            try:
                return await self._read_with_retries(unit_id, function, address, count)
            finally:
                self._next_send_at = self._clock.monotonic() + self.gap_s

    async def _read_with_retries(
        self, unit_id: int, function: Function, address: int, count: int
    ) -> list[int]:
        self.counters["requests"] += 1
        last: BusError | None = None
        for attempt in range(self._settings.retries + 1):
            if attempt:
                self.counters["retries"] += 1
            await self._wait_gap()
            try:
                regs = await self._attempt(unit_id, function, address, count)
            except (BusTimeout, BusGarbled) as exc:
                self.counters[exc.kind] += 1
                last = exc
                self._next_send_at = self._clock.monotonic() + self.gap_s
                continue
            except BusError as exc:
                self.counters[exc.kind] += 1
                raise
            self.counters["ok"] += 1
            return regs
        assert last is not None
        raise last

    async def _wait_gap(self) -> None:
        wait = self._next_send_at - self._clock.monotonic()
        if wait > 0:
            await asyncio.sleep(min(wait, self.gap_s))

    async def _attempt(
        self, unit_id: int, function: Function, address: int, count: int
    ) -> list[int]:
        if not self._client.connected and not await self._client.connect():
            raise BusDisconnected(f"{self.name}: cannot connect")
        read: Callable[..., Awaitable[ModbusPDU]] = (
            self._client.read_holding_registers
            if function is Function.HOLDING
            else self._client.read_input_registers
        )
        self._probe.bytes_seen = 0
        try:
            response: ModbusPDU = await asyncio.wait_for(
                read(address, count=count, device_id=unit_id),
                timeout=self._settings.timeout_s * 2 + 0.5,
            )
        except (TimeoutError, ModbusException) as exc:
            if isinstance(exc, ConnectionException):
                raise BusDisconnected(f"{self.name}: {exc}") from exc
            if self._probe.bytes_seen:
                raise BusGarbled(
                    f"{self.name} unit {unit_id}: {self._probe.bytes_seen} bytes but no valid frame"
                ) from exc
            raise BusTimeout(f"{self.name} unit {unit_id}: no answer to read at {address}") from exc
        if response.isError():
            code = int(getattr(response, "exception_code", 0))
            raise BusExceptionResponse(
                code, f"{self.name} unit {unit_id}: exception {code} reading {address}+{count}"
            )
        regs = list(response.registers)
        if len(regs) != count:
            raise BusGarbled(
                f"{self.name} unit {unit_id}: asked {count} registers, got {len(regs)}"
            )
        return regs

    @property
    def connected(self) -> bool:
        """True while the port is open / the TCP connection is up."""
        return bool(self._client.connected)

    async def close(self) -> None:
        """Close the port or connection; a later read reopens it."""
        async with self._lock:
            self._client.close()

    def status(self) -> dict[str, object]:
        """Counters and settings for the status page."""
        return {
            "name": self.name,
            "gap_s": self.gap_s,
            "connected": self.connected,
            **self.counters,
        }
