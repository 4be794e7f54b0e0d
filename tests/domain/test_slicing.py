"""Slice sizes per mechanism: MIG profiles and placements, vNPU templates, MPS/HAMi limits, the job's env."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from suanli.domain.catalog_data import builtin_catalog
from suanli.domain.slicing import (
    ALL_MECHANISMS,
    MIG_PROFILES,
    Mechanism,
    SliceLimits,
    best_start,
    choose,
    free_starts,
    job_env,
    parse_mechanisms,
    preference,
    size_for,
)

CAT = builtin_catalog()


def test_every_mig_capable_model_of_the_issue_has_profiles_and_the_catalog_knows_it() -> None:
    for name in ("A100-80GB", "A800", "H100-SXM", "H800", "H20", "H200"):
        assert name in CAT and len(MIG_PROFILES[name]) == 6
        assert preference(CAT.get(name))[0] is Mechanism.MIG
    assert [p.name for p in MIG_PROFILES["H20"]] == ["1g.12gb", "1g.24gb", "2g.24gb", "3g.48gb", "4g.48gb", "7g.96gb"]
    assert MIG_PROFILES["H200"][0].name == "1g.18gb"


@pytest.mark.parametrize(("share", "mem", "profile", "milli"), [
    (10, 1024, "1g.10gb", 125), (14, 10240, "1g.10gb", 125), (15, 1024, "2g.20gb", 250),
    (10, 10241, "1g.20gb", 250), (42, 30000, "3g.40gb", 500), (50, 1024, "4g.40gb", 500),
    (58, 1024, "7g.80gb", 1000), (100, 81920, "7g.80gb", 1000)])
def test_a_slice_is_rounded_up_to_the_smallest_profile_holding_compute_and_memory(
        share: int, mem: int, profile: str, milli: int) -> None:
    size = size_for(CAT.get("A100-80GB"), Mechanism.MIG, share, mem)
    assert size is not None and size.enforcement == f"mig:{profile}" and size.milli == milli
    assert size.memory_mib >= mem and size.share_pct >= share


def test_a_size_no_profile_holds_is_none_and_the_choice_names_the_profiles() -> None:
    choice = choose(CAT.get("A100-80GB"), {Mechanism.MIG}, 10, 90000)
    assert choice.size is None and "1g.10gb" in choice.why_not and "7g.80gb" in choice.why_not


def test_every_valid_mig_layout_fits_the_device_capacity() -> None:
    """Fill a GPU with instances in every order of profiles: placements never overlap and milli never pass 1000."""
    table = MIG_PROFILES["H100-SXM"]
    for seq in itertools.product(table, repeat=4):
        taken: list[tuple[int, int]] = []
        milli = 0
        for prof in seq:
            start = best_start(prof, taken, table)
            if start is None:
                continue
            assert start in free_starts(prof, taken)
            taken.append((start, prof.span))
            milli += prof.milli
        cells = [c for s, w in taken for c in range(s, s + w)]
        assert len(cells) == len(set(cells)) and max(cells) < 8 and milli <= 1000


def test_small_instances_leave_room_for_big_ones() -> None:
    table = MIG_PROFILES["A100-80GB"]
    one = table[0]
    assert best_start(one, [], table) == 6  # a 1g at the top keeps 3g/4g placements at 0 free
    assert best_start(table[4], [(6, 1)], table) == 0  # then a 4g.40gb still fits


def test_vnpu_templates_and_none_on_cambricon_and_hygon() -> None:
    ascend = CAT.get("Ascend-910B")
    assert size_for(ascend, Mechanism.VNPU, 25, 16384).enforcement == "vnpu:vir05_1c_16g"  # type: ignore[union-attr]
    assert size_for(ascend, Mechanism.VNPU, 26, 1024).enforcement == "vnpu:vir10_3c_32g"  # type: ignore[union-attr]
    assert size_for(ascend, Mechanism.VNPU, 60, 1024) is None
    for name in ("MLU370-X8", "DCU-K100-AI"):
        c = choose(CAT.get(name), ALL_MECHANISMS, 25, 1024)
        assert c.size is not None and c.size.enforcement == "none" and c.why_not


def test_limits_based_mechanisms_keep_the_dominant_share() -> None:
    l20 = CAT.get("L20")
    assert choose(l20, {Mechanism.MPS}, 25, 1024).size.enforcement == "mps"  # type: ignore[union-attr]
    assert choose(l20, {Mechanism.MPS, Mechanism.HAMI}, 10, 24576).size.milli == 500  # type: ignore[union-attr]
    assert choose(CAT.get("A100-80GB"), {Mechanism.MPS}, 10, 1024).size.enforcement == "mps"  # type: ignore[union-attr]


@given(st.integers(1, 100), st.integers(1, 200_000))
def test_enforced_sizes_always_hold_the_request(share: int, mem: int) -> None:
    for model in CAT:
        for mech in preference(model):
            size = size_for(model, mech, share, mem)
            if size is not None:
                assert size.share_pct >= share and size.memory_mib >= mem and 1 <= size.milli <= 1000


def test_the_job_env_carries_each_mechanisms_limits() -> None:
    mps = job_env(SliceLimits("mps", 30, 4096), 2)
    assert mps["CUDA_MPS_ACTIVE_THREAD_PERCENTAGE"] == "30" and mps["CUDA_MPS_PINNED_DEVICE_MEM_LIMIT"] == "0=4096M"
    hami = job_env(SliceLimits("hami", 30, 4096), 0, hami_library="/usr/lib/libvgpu.so")
    assert hami["CUDA_DEVICE_MEMORY_LIMIT"] == "4096m" and hami["CUDA_DEVICE_SM_LIMIT"] == "30"
    assert hami["LD_PRELOAD"] == "/usr/lib/libvgpu.so"
    mig = job_env(SliceLimits("mig:1g.10gb", 14, 10240, mig_start=6), 3)
    assert mig["SUANLI_MIG_PROFILE"] == "1g.10gb" and mig["SUANLI_MIG_START"] == "6" and mig["SUANLI_MIG_GPU"] == "3"
    assert job_env(SliceLimits("none", 30, 4096), 0)["SUANLI_SLICE_ENFORCEMENT"] == "none"


def test_parse_mechanisms_names_the_allowed_ones() -> None:
    assert parse_mechanisms("mig, mps,") == {Mechanism.MIG, Mechanism.MPS}
    with pytest.raises(ValueError, match="allowed: mig, hami, mps, vnpu"):
        parse_mechanisms("mig,foo")
