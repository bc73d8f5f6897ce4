"""An I2C bus with ADS1115 converters on it that read voltages the test sets.

Only the analog world is fake: the register protocol below is the ADS1115's (config
register 0x01 with OS/MUX/PGA bits, conversion register 0x00, signed 16 bits), so
the real ``adafruit_ads1x15`` driver and our ``Ads1115Source`` run unchanged on it.
"""

from __future__ import annotations

import errno
from typing import Any

_FULL_SCALE = {0: 6.144, 1: 4.096, 2: 2.048, 3: 1.024, 4: 0.512, 5: 0.256, 6: 0.256, 7: 0.256}


class FakeAdsBus:
    def __init__(self, volts: dict[tuple[int, int], float]) -> None:
        self.volts = volts  # (address, channel) -> volts; change it any time
        self.addresses = {address for address, _ in volts}
        self._pointer: dict[int, int] = {}
        self._registers: dict[int, dict[int, int]] = {a: {0: 0, 1: 0x8583} for a in self.addresses}
        self.conversions: list[tuple[int, int, float]] = []  # (address, channel, full scale)

    def try_lock(self) -> bool:
        return True

    def unlock(self) -> None:
        pass

    def _check(self, address: int) -> None:
        if address not in self.addresses:
            raise OSError(errno.EREMOTEIO, "Remote I/O error")

    def writeto(self, address: int, buffer: Any, *, start: int = 0, end: int | None = None) -> None:
        self._check(address)
        data = bytes(buffer[start:end])
        if not data:
            return
        self._pointer[address] = data[0]
        if len(data) == 3:
            value = data[1] << 8 | data[2]
            self._registers[address][data[0]] = value
            if data[0] == 1 and value & 0x8000:
                self._convert(address, value)

    def _convert(self, address: int, config: int) -> None:
        mux = (config >> 12) & 0x7
        if mux < 4:
            raise AssertionError("the bridge reads single-ended channels only")
        channel = mux - 4
        full_scale = _FULL_SCALE[(config >> 9) & 0x7]
        volts = self.volts[(address, channel)]
        code = max(-32768, min(32767, round(volts / full_scale * 32768)))
        self._registers[address][0] = code & 0xFFFF
        self.conversions.append((address, channel, full_scale))

    def readfrom_into(self, address: int, buffer: Any, *, start: int = 0, end: int | None = None) -> None:
        self._check(address)
        value = self._registers[address][self._pointer.get(address, 0)]
        buffer[start] = value >> 8
        buffer[start + 1] = value & 0xFF

    def writeto_then_readfrom(
        self,
        address: int,
        out_buffer: Any,
        in_buffer: Any,
        *,
        out_start: int = 0,
        out_end: int | None = None,
        in_start: int = 0,
        in_end: int | None = None,
    ) -> None:
        self.writeto(address, out_buffer, start=out_start, end=out_end)
        self.readfrom_into(address, in_buffer, start=in_start, end=in_end)
