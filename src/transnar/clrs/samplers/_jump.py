"""Jumping a ``numpy.random.RandomState`` ahead by any number of 32-bit outputs.

``RandomState`` draws 32-bit words from a Mersenne Twister (MT19937): a
linear recurrence over GF(2) whose state has 19,937 bits. Writing ``x_n`` for
its untempered words (the state holds 624 of them, ``x_b .. x_b+623``), each
bit of ``x_n`` (``n > b``) is a linear function of the state, so the sequence
obeys the recurrence's characteristic polynomial ``phi`` (degree 19,937): if
``x^J mod phi = sum_i g_i x^i``, then ``x_{n+J}`` is the XOR of the words
``x_{n+i}`` with ``g_i = 1``, for every ``n > b``. ``x^J mod phi`` takes
``log2(J)`` squarings of polynomials, so a jump costs about the same for a
million words as for a trillion (tens of milliseconds; ``phi`` itself is
found once per process by Berlekamp-Massey, about 0.2 s).

Short jumps just run the generator (:meth:`numpy.random.MT19937.random_raw`),
which is faster below about ten million words.
"""

from __future__ import annotations

import functools

import numpy as np

N = 624
"""Words in the twister's state."""
DEGREE = 19937
"""Bits of the state: the degree of its characteristic polynomial."""
DIRECT_WORDS = 1 << 23
"""Jumps up to this many words run the generator instead."""

# bit i of a byte -> bit 2i of a 16-bit word: squaring a polynomial over GF(2)
_SPREAD = np.array(
    [sum(((b >> i) & 1) << (2 * i) for i in range(8)) for b in range(256)], dtype="<u2"
)


def jump(rng: np.random.RandomState, words: int) -> None:
    """Advances ``rng`` as if it had produced ``words`` 32-bit outputs.

    The draws that follow are those ``rng`` would make after any draws that
    took ``words`` words (e.g. ``words // 2`` uniform doubles); its cached
    Gaussian, if any, is kept.
    """
    if words < 0:
        raise ValueError(f"cannot jump back ({words} words)")
    if words == 0:
        return
    kind, key, pos, has_gauss, gauss = rng.get_state()
    if kind != "MT19937":
        raise ValueError(f"can only jump a Mersenne Twister, not {kind}")
    if words <= DIRECT_WORDS:
        generator = _generator(key, pos)
        generator.random_raw(words, output=False)
        state = generator.state["state"]
        rng.set_state((kind, state["key"], state["pos"], has_gauss, gauss))
        return
    # key holds x_0 .. x_623 and x_pos comes next; afterwards x_t does, t = pos + words.
    # x_{1+J+k} = XOR of x_{1+k+i} over the terms x^i of x^J mod phi, with J = t - 1.
    terms = _terms(_power_of_x(pos + words - 1))
    words_ahead = _untempered(key, N + DEGREE)
    new_key = np.empty(N, dtype=np.uint32)
    for start in range(0, N, 48):  # 48 rows of the gather at a time: a few MB
        k = np.arange(start, min(N, start + 48))
        new_key[k] = np.bitwise_xor.reduce(words_ahead[1 + k[:, None] + terms[None, :]], axis=1)
    rng.set_state((kind, new_key, 0, has_gauss, gauss))


def _generator(key: np.ndarray, pos: int) -> np.random.MT19937:
    """An ``MT19937`` bit generator in the state ``(key, pos)``."""
    generator = np.random.MT19937()
    generator.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": pos}}
    return generator


def _untempered(key: np.ndarray, count: int) -> np.ndarray:
    """The untempered words ``x_0 .. x_{count-1}`` of the twister whose state
    holds ``key = x_0 .. x_623``: the generator's state after each regeneration."""
    blocks = [np.asarray(key, dtype=np.uint32)]
    while len(blocks) * N < count:
        generator = _generator(blocks[-1], N)  # the next output regenerates the state
        generator.random_raw(1, output=False)
        blocks.append(generator.state["state"]["key"].copy())
    return np.concatenate(blocks)[:count]


@functools.lru_cache(maxsize=1)
def _characteristic_polynomial() -> int:
    """``phi`` as an integer (bit ``i``: the coefficient of ``x^i``), found by
    Berlekamp-Massey on the lowest bits of ``2 * DEGREE`` words."""
    words = _untempered(np.random.RandomState(0).get_state()[1], 2 * DEGREE + 1)
    bits = (words[1:] & 1).tolist()  # x_0's low bits are not part of the recurrence
    # connection polynomial C (bit i: c_i), s_n = sum_{i>=1} c_i s_{n-i}
    connection, before, length, gap = 1, 1, 0, 1
    history = 0  # bit i: s_{n-i}
    for n, bit in enumerate(bits):
        history = (history << 1) | bit
        if not (connection & history).bit_count() & 1:
            gap += 1
        elif 2 * length <= n:
            connection, before = connection ^ (before << gap), connection
            length, gap = n + 1 - length, 1
        else:
            connection ^= before << gap
            gap += 1
    if length != DEGREE:
        raise RuntimeError(f"the twister's recurrence has degree {length}, not {DEGREE}")
    # phi(x) = x^L C(1/x): the coefficients reversed
    return int(format(connection, f"0{DEGREE + 1}b")[::-1], 2)


@functools.lru_cache(maxsize=1)
def _reduction_table() -> tuple[int, ...]:
    """The multiples ``q * phi`` (``q`` of degree < 8), indexed by their top byte
    (their coefficients of ``x^DEGREE .. x^(DEGREE+7)``)."""
    phi = _characteristic_polynomial()
    table = [0] * 256
    for q in range(256):
        product = 0
        for j in range(8):
            if (q >> j) & 1:
                product ^= phi << j
        table[product >> DEGREE] = product
    return tuple(table)


def _reduce(a: int) -> int:
    """``a mod phi``, eight coefficients at a time."""
    table = _reduction_table()
    while (n := a.bit_length()) > DEGREE:
        shift = max(n - DEGREE - 8, 0)
        a ^= table[(a >> (DEGREE + shift)) & 0xFF] << shift
    return a


def _square(a: int) -> int:
    """``a * a`` over GF(2): coefficient ``i`` moves to ``2i``."""
    data = np.frombuffer(a.to_bytes(max(1, (a.bit_length() + 7) // 8), "little"), np.uint8)
    return int.from_bytes(_SPREAD[data].tobytes(), "little")


def _power_of_x(exponent: int) -> int:
    """``x^exponent mod phi``."""
    phi = _characteristic_polynomial()
    result = 1
    for bit in bin(exponent)[2:]:
        result = _reduce(_square(result))
        if bit == "1":
            result <<= 1
            if result >> DEGREE:
                result ^= phi
    return result


def _terms(polynomial: int) -> np.ndarray:
    """The exponents of a polynomial's terms."""
    data = polynomial.to_bytes(max(1, (polynomial.bit_length() + 7) // 8), "little")
    return np.flatnonzero(np.unpackbits(np.frombuffer(data, np.uint8), bitorder="little"))


__all__ = ["jump"]
