// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {RiskParams, ParamBounds} from "../interfaces/RiskTypes.sol";

/// @notice Fuzz tests of the bounds logic: `validateChange` accepts a change if and only if a plain restatement
///         of the rules does, and an accepted `submitUpdate` always lands inside the bounds.
contract GovernorFuzzTest is Fixture {
    function _value(RiskParams memory p, uint256 i) internal pure returns (uint256) {
        return i == 0 ? p.ltv : i == 1 ? p.liquidationThreshold : p.liquidationBonus;
    }

    /// @dev The rules written out once more, independently of the contract's code path.
    function _allowed(
        RiskParams memory cur,
        RiskParams memory next,
        ParamBounds[3] memory b,
        uint64[3] memory last,
        uint256 t
    ) internal pure returns (bool) {
        bool changed = false;
        for (uint256 i = 0; i < 3; ++i) {
            uint256 from = _value(cur, i);
            uint256 to = _value(next, i);
            if (to < b[i].min || to > b[i].max) return false;
            if (to == from) continue;
            changed = true;
            if (to > from ? to - from > b[i].maxIncreaseBps : from - to > b[i].maxDecreaseBps) return false;
            if (last[i] != 0 && t < uint256(last[i]) + b[i].minDelay) return false;
        }
        return changed && next.ltv < next.liquidationThreshold
            && uint256(next.liquidationThreshold) * (10_000 + uint256(next.liquidationBonus)) < 1e8;
    }

    function _bounds(uint256 seed) internal pure returns (ParamBounds[3] memory b) {
        for (uint256 i = 0; i < 3; ++i) {
            uint256 s = uint256(keccak256(abi.encode(seed, i)));
            uint16 lo = uint16(s % 10_001);
            uint16 hi = uint16(lo + (s >> 16) % (10_001 - uint256(lo)));
            b[i] = ParamBounds({
                min: lo,
                max: hi,
                maxIncreaseBps: uint16((s >> 32) % 1_000),
                maxDecreaseBps: uint16((s >> 48) % 1_000),
                minDelay: uint32((s >> 64) % 7 days)
            });
        }
    }

    function testFuzz_validateChange_matchesRules(
        uint256 boundsSeed,
        uint16[3] memory cur,
        uint16[3] memory deltas,
        uint64[3] memory last,
        uint32 elapsed
    ) public view {
        ParamBounds[3] memory b = _bounds(boundsSeed);
        RiskParams memory c = RiskParams(
            uint16(bound(cur[0], b[0].min, b[0].max)),
            uint16(bound(cur[1], b[1].min, b[1].max)),
            uint16(bound(cur[2], b[2].min, b[2].max))
        );
        // proposals near the current values so that every rule is exercised
        RiskParams memory n = RiskParams(
            uint16(bound(uint256(c.ltv) + deltas[0] % 2_001, 1_000, 11_000) - 1_000),
            uint16(bound(uint256(c.liquidationThreshold) + deltas[1] % 2_001, 1_000, 11_000) - 1_000),
            uint16(bound(uint256(c.liquidationBonus) + deltas[2] % 2_001, 1_000, 11_000) - 1_000)
        );
        uint256 t = 1_700_000_000;
        for (uint256 i = 0; i < 3; ++i) {
            last[i] = last[i] == 0 ? 0 : uint64(t - bound(last[i], 0, 8 days));
        }
        t += elapsed % 2 days;
        bytes memory err = governor.validateChange(address(weth), c, n, b, last, t);
        assertEq(err.length == 0 ? 1 : 0, _allowed(c, n, b, last, t) ? 1 : 0, "contract vs restated rules");
    }

    function testFuzz_submitUpdate_landsInBounds(uint16 ltv, uint16 lt, uint16 lb, uint32 wait) public {
        vm.warp(block.timestamp + wait);
        RiskParams memory before = params(address(weth));
        RiskParams memory next = RiskParams(
            uint16(bound(ltv, 7_700, 8_300)), uint16(bound(lt, 8_000, 8_400)), uint16(bound(lb, 350, 700))
        );
        bytes memory err = governor.checkUpdate(address(weth), next, block.timestamp);
        vm.prank(KEEPER);
        (bool ok, bytes memory ret) = address(governor).call(
            abi.encodeCall(governor.submitUpdate, (address(weth), next, bytes32(0), block.timestamp))
        );
        if (!ok) {
            assertEq(ret, err, "revert data equals checkUpdate");
            return;
        }
        assertEq(err.length, 0, "checkUpdate said ok");
        ParamBounds[3] memory b = defaultBounds();
        RiskParams memory got = params(address(weth));
        for (uint256 i = 0; i < 3; ++i) {
            uint256 from = _value(before, i);
            uint256 to = _value(got, i);
            assertTrue(to >= b[i].min && to <= b[i].max, "in range");
            if (to > from) assertLe(to - from, b[i].maxIncreaseBps, "increase step");
            if (to < from) assertLe(from - to, b[i].maxDecreaseBps, "decrease step");
        }
        assertLt(got.ltv, got.liquidationThreshold, "ltv < lt");
    }
}
