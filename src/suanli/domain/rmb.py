"""An amount of 人民币 in capital numerals (大写金额), as Chinese invoices and cheques write it.

Rules (《支付结算办法》 附件一, 正确填写票据和结算凭证的基本规定):

- numerals 零壹贰叁肆伍陆柒捌玖, units 拾佰仟 within a group of four digits, groups 万 亿 万亿;
  ten is 壹拾 (the 壹 is never dropped in 大写);
- zeros between non-zero digits are written as one 零 (1005 元: 壹仟零伍元; 100000001 元:
  壹亿零壹元); trailing zeros of a group are not written;
- the yuan part ends with 元; an amount with neither 角 nor 分 ends with 整 (壹佰元整); 分
  after a zero 角 is preceded by 零 (壹元零伍分); nothing after 分 or 角;
- an amount below one yuan has no yuan part (伍角陆分); zero is 零元整; a negative amount starts
  with 负.

The amount is first rounded to 0.01 half up (an invoice's amounts already are).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

DIGITS = "零壹贰叁肆伍陆柒捌玖"
_IN_GROUP = ("仟", "佰", "拾", "")
_GROUPS = ("", "万", "亿", "万亿")


def _group(n: int) -> str:
    """1..9999 in capitals (no leading 零)."""
    out = ""
    zero = False
    for d, unit in zip((n // 1000, n // 100 % 10, n // 10 % 10, n % 10), _IN_GROUP, strict=True):
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += DIGITS[d] + unit
    return out


def _yuan(n: int) -> str:
    groups: list[int] = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    if len(groups) > len(_GROUPS):
        raise ValueError("an amount of 10^16 yuan or more has no capital form here")
    out = ""
    gap = False
    for i in reversed(range(len(groups))):
        g = groups[i]
        if g == 0:
            gap = bool(out)
            continue
        if out and (gap or g < 1000):
            out += "零"
        # 万亿 is written 万 when the 亿 group follows with digits of its own (壹万贰仟亿, 壹万亿零伍元)
        out += _group(g) + ("万" if i == 3 and groups[2] else _GROUPS[i])
        gap = False
    return out


def rmb_upper(amount: Decimal) -> str:
    """``12345.67`` -> ``壹万贰仟叁佰肆拾伍元陆角柒分``; ``100`` -> ``壹佰元整``; ``0.05`` -> ``伍分``."""
    cents = int(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).scaleb(2))
    sign = "负" if cents < 0 else ""
    cents = abs(cents)
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    if cents == 0:
        return "零元整"
    out = _yuan(yuan) + "元" if yuan else ""
    if jiao == 0 and fen == 0:
        return sign + out + "整"
    if jiao:
        out += DIGITS[jiao] + "角"
    elif yuan:
        out += "零"
    if fen:
        out += DIGITS[fen] + "分"
    return sign + out
