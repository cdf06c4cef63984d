"""The tissue labels a phantom is drawn with (one code per structure class)."""

from __future__ import annotations

from enum import IntEnum


class Tissue(IntEnum):
    AIR = 0
    FAT = 1  # subcutaneous fat
    MUSCLE = 2  # abdominal wall, diaphragm, paraspinal and psoas muscles
    VISCERAL_FAT = 3
    MESENTERY = 4  # soft-tissue strands and lymph nodes in the visceral fat
    BOWEL = 5
    BOWEL_GAS = 6
    KIDNEY_CORTEX = 7
    KIDNEY_MEDULLA = 8
    BONE_CORTEX = 9
    BONE_MARROW = 10
    DISC = 11
    SPINAL_CANAL = 12
    RIB = 13
    LUNG = 14
    EFFUSION = 15  # pleural effusion, in the posterior costophrenic recess above the diaphragm
    MYOCARDIUM = 16
    HEART_BLOOD = 17
    AORTA = 18
    IVC = 19
    SPLEEN = 20
    STOMACH_WALL = 21
    STOMACH_CONTENT = 22
    STOMACH_GAS = 23
    PANCREAS = 24
    LIVER = 25
    PORTAL_VEIN = 26
    HEPATIC_VEIN = 27
    TUMOUR_HYPO = 28
    TUMOUR_HYPER = 29
    GALLBLADDER = 30


LABEL_NAMES = {t.name.lower(): int(t) for t in Tissue}
