"""Synthetic Chinese personal names (虚构姓名) for the demo street, and the real community names.

Names are drawn as surname + two-character given name from the lists below, so they read as
ordinary names while matching no one on purpose.
"""

from __future__ import annotations

import numpy as np

# Common surnames, roughly in order of frequency in Guangdong.
SURNAMES: tuple[str, ...] = tuple(
    "陈李黄张梁刘林王吴郑杨何罗周谢赖钟曾邓许冯蔡彭叶卢朱苏潘余温江胡徐郭肖丘廖方沈宋高姚谭邱邹严"
)

# Characters often used in given names; two are drawn for each person.
GIVEN_CHARACTERS: tuple[str, ...] = tuple(
    "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玉兰萍红建文辉"
    "志宏国海鹏飞思雨晨欣子涵宇浩然佳琪嘉俊锦荣晓梅颖婷慧健振东"
)

# Communities (社区) of 观湖街道, in the order their codes are given (001, 002, …).
GUANHU_COMMUNITIES: tuple[str, ...] = (
    "松元厦",
    "鹭湖",
    "樟坑径",
    "新田",
    "大和",
    "樟溪",
    "新源",
    "润城",
    "观城",
    "君子布",
)

# Ordinal numerals for grid names such as 松元厦第一网格.
ORDINALS: tuple[str, ...] = ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十")


def synthetic_names(*, count: int, seed: int) -> tuple[str, ...]:
    """Draw `count` distinct synthetic names, the same ones for the same seed."""
    rng = np.random.default_rng(seed)
    names: dict[str, None] = {}
    while len(names) < count:
        surname = SURNAMES[int(rng.integers(len(SURNAMES)))]
        first, second = rng.choice(len(GIVEN_CHARACTERS), size=2, replace=False)
        names[surname + GIVEN_CHARACTERS[int(first)] + GIVEN_CHARACTERS[int(second)]] = None
    return tuple(names)
