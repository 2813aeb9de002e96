// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {RiskParameterGovernor as G} from "../RiskParameterGovernor.sol";
import {IRiskParameterGovernor as IG} from "../interfaces/IRiskParameterGovernor.sol";
import {IRiskTarget} from "../interfaces/IRiskTarget.sol";
import {RiskParams, ParamBounds} from "../interfaces/RiskTypes.sol";

/// @notice Unit tests: every external function of the governor and every revert, with its arguments.
contract RiskParameterGovernorTest is Fixture {
    bytes32 internal constant REPORT = keccak256("report");

    function submit(RiskParams memory p) internal returns (uint256) {
        vm.prank(KEEPER);
        return governor.submitUpdate(address(weth), p, REPORT, block.timestamp + 1 hours);
    }

    function expectSubmitRevert(RiskParams memory p, bytes memory err) internal {
        vm.expectRevert(err);
        vm.prank(KEEPER);
        governor.submitUpdate(address(weth), p, REPORT, block.timestamp + 1 hours);
    }

    // ------------------------------------------------------------ constructor / roles

    function test_constructor_setsRoles() public view {
        assertEq(governor.owner(), OWNER, "owner");
        assertEq(governor.keeper(), KEEPER, "keeper");
        assertEq(governor.guardian(), GUARDIAN, "guardian");
        assertEq(address(governor.target()), address(market), "target");
        assertTrue(!governor.paused(), "not paused");
    }

    function test_constructor_revertsOnZeroTarget() public {
        vm.expectRevert(abi.encodeWithSelector(IG.ZeroAddress.selector));
        new G(IRiskTarget(address(0)), OWNER, KEEPER, GUARDIAN);
    }

    function test_constructor_revertsOnZeroOwner() public {
        vm.expectRevert(abi.encodeWithSelector(IG.ZeroAddress.selector));
        new G(IRiskTarget(address(market)), address(0), KEEPER, GUARDIAN);
    }

    function test_setKeeper() public {
        vm.expectEmit(true, true, false, true);
        emit IG.KeeperSet(KEEPER, ALICE);
        vm.prank(OWNER);
        governor.setKeeper(ALICE);
        assertEq(governor.keeper(), ALICE, "keeper");
    }

    function test_setKeeper_revertsForNonOwner() public {
        vm.expectRevert(abi.encodeWithSelector(IG.NotOwner.selector, KEEPER));
        vm.prank(KEEPER);
        governor.setKeeper(ALICE);
    }

    function test_setGuardian() public {
        vm.expectEmit(true, true, false, true);
        emit IG.GuardianSet(GUARDIAN, ALICE);
        vm.prank(OWNER);
        governor.setGuardian(ALICE);
        assertEq(governor.guardian(), ALICE, "guardian");
    }

    function test_setGuardian_revertsForNonOwner() public {
        vm.expectRevert(abi.encodeWithSelector(IG.NotOwner.selector, GUARDIAN));
        vm.prank(GUARDIAN);
        governor.setGuardian(ALICE);
    }

    function test_transferOwnership() public {
        vm.expectEmit(true, true, false, true);
        emit IG.OwnershipTransferred(OWNER, ALICE);
        vm.prank(OWNER);
        governor.transferOwnership(ALICE);
        assertEq(governor.owner(), ALICE, "owner");
    }

    function test_transferOwnership_revertsOnZero() public {
        vm.expectRevert(abi.encodeWithSelector(IG.ZeroAddress.selector));
        vm.prank(OWNER);
        governor.transferOwnership(address(0));
    }

    function test_transferOwnership_revertsForNonOwner() public {
        vm.expectRevert(abi.encodeWithSelector(IG.NotOwner.selector, ALICE));
        vm.prank(ALICE);
        governor.transferOwnership(ALICE);
    }

    // ------------------------------------------------------------------- bounds

    function test_setBounds_storesAndEmits() public {
        ParamBounds[3] memory b = defaultBounds();
        b[0].maxIncreaseBps = 25;
        ParamBounds[3] memory old = defaultBounds();
        vm.expectEmit(true, false, false, true);
        emit IG.BoundsSet(address(weth), old, b);
        vm.prank(OWNER);
        governor.setBounds(address(weth), b);
        assertEq(governor.getBounds(address(weth))[0].maxIncreaseBps, 25, "stored");
        assertTrue(governor.isConfigured(address(weth)), "configured");
    }

    function test_setBounds_revertsForNonOwner() public {
        vm.expectRevert(abi.encodeWithSelector(IG.NotOwner.selector, KEEPER));
        vm.prank(KEEPER);
        governor.setBounds(address(weth), defaultBounds());
    }

    function test_setBounds_revertsOnUnlistedAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IG.AssetNotListed.selector, address(usd)));
        vm.prank(OWNER);
        governor.setBounds(address(usd), defaultBounds());
    }

    function test_setBounds_revertsOnMinAboveMax() public {
        ParamBounds[3] memory b = defaultBounds();
        b[1].min = 9_100;
        vm.expectRevert(abi.encodeWithSelector(IG.InvalidBounds.selector, uint8(1)));
        vm.prank(OWNER);
        governor.setBounds(address(weth), b);
    }

    function test_setBounds_revertsOnMaxAbove100Percent() public {
        ParamBounds[3] memory b = defaultBounds();
        b[2].max = 10_001;
        vm.expectRevert(abi.encodeWithSelector(IG.InvalidBounds.selector, uint8(2)));
        vm.prank(OWNER);
        governor.setBounds(address(weth), b);
    }

    function test_setBounds_revertsWhenCurrentOutside() public {
        ParamBounds[3] memory b = defaultBounds();
        b[0].max = 7_900; // current LTV is 8000
        vm.expectRevert(abi.encodeWithSelector(IG.CurrentOutsideBounds.selector, uint8(0), uint256(8_000)));
        vm.prank(OWNER);
        governor.setBounds(address(weth), b);
    }

    // ------------------------------------------------------------- submitUpdate

    function test_submitUpdate_appliesAndEmits() public {
        RiskParams memory next = RiskParams(8_050, 8_300, 450);
        vm.expectEmit(true, true, false, true);
        emit IG.ParametersUpdated(address(weth), 1, wethParams(), next, REPORT);
        assertEq(submit(next), 1, "first id");
        RiskParams memory now_ = params(address(weth));
        assertEq(now_.ltv, 8_050, "ltv");
        assertEq(now_.liquidationThreshold, 8_300, "lt");
        assertEq(now_.liquidationBonus, 450, "lb");
        uint64[3] memory last = governor.getLastChangedAt(address(weth));
        assertEq(last[0], block.timestamp, "ltv clock");
        assertEq(last[2], block.timestamp, "lb clock");
    }

    function test_submitUpdate_idsStrictlyIncreasePerAsset() public {
        assertEq(submit(RiskParams(7_900, 8_250, 500)), 1, "id 1");
        vm.warp(block.timestamp + 1 days);
        assertEq(submit(RiskParams(7_800, 8_250, 500)), 2, "id 2");
        assertEq(governor.lastUpdateId(address(weth)), 2, "stored");
        assertEq(governor.lastUpdateId(address(wbtc)), 0, "other asset untouched");
    }

    function test_submitUpdate_onlyChangedParamsRestartClock() public {
        submit(RiskParams(7_900, 8_250, 500));
        uint64[3] memory last = governor.getLastChangedAt(address(weth));
        assertEq(last[0], block.timestamp, "ltv changed");
        assertEq(last[1], 0, "lt unchanged");
        assertEq(last[2], 0, "lb unchanged");
    }

    function test_submitUpdate_revertsForNonKeeper() public {
        vm.expectRevert(abi.encodeWithSelector(IG.NotKeeper.selector, ALICE));
        vm.prank(ALICE);
        governor.submitUpdate(address(weth), RiskParams(7_900, 8_250, 500), REPORT, block.timestamp);
    }

    function test_submitUpdate_revertsWhenPaused() public {
        vm.prank(GUARDIAN);
        governor.pause();
        expectSubmitRevert(RiskParams(7_900, 8_250, 500), abi.encodeWithSelector(IG.GovernorPaused.selector));
    }

    function test_submitUpdate_revertsWhenExpired() public {
        uint256 validUntil = block.timestamp - 1;
        vm.expectRevert(abi.encodeWithSelector(IG.UpdateExpired.selector, validUntil, block.timestamp));
        vm.prank(KEEPER);
        governor.submitUpdate(address(weth), RiskParams(7_900, 8_250, 500), REPORT, validUntil);
    }

    function test_submitUpdate_acceptsAtValidUntil() public {
        vm.prank(KEEPER);
        governor.submitUpdate(address(weth), RiskParams(7_900, 8_250, 500), REPORT, block.timestamp);
        assertEq(params(address(weth)).ltv, 7_900, "applied");
    }

    function test_submitUpdate_revertsOnUnconfiguredAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IG.AssetNotConfigured.selector, address(usd)));
        vm.prank(KEEPER);
        governor.submitUpdate(address(usd), RiskParams(7_900, 8_250, 500), REPORT, block.timestamp);
    }

    function test_submitUpdate_revertsOnNoChange() public {
        expectSubmitRevert(wethParams(), abi.encodeWithSelector(IG.NoChange.selector, address(weth)));
    }

    function test_submitUpdate_revertsBelowMin() public {
        ParamBounds[3] memory b = defaultBounds();
        b[0].maxDecreaseBps = 5_000;
        vm.prank(OWNER);
        governor.setBounds(address(weth), b);
        expectSubmitRevert(
            RiskParams(4_999, 8_250, 500),
            abi.encodeWithSelector(IG.OutOfRange.selector, uint8(0), 4_999, 5_000, 8_500)
        );
    }

    function test_submitUpdate_revertsAboveMax() public {
        expectSubmitRevert(
            RiskParams(8_000, 8_250, 1_501),
            abi.encodeWithSelector(IG.OutOfRange.selector, uint8(2), 1_501, 300, 1_500)
        );
    }

    function test_submitUpdate_revertsOnIncreaseStep() public {
        expectSubmitRevert(
            RiskParams(8_051, 8_250, 500),
            abi.encodeWithSelector(IG.IncreaseTooLarge.selector, uint8(0), 8_000, 8_051, 50)
        );
    }

    function test_submitUpdate_revertsOnDecreaseStep() public {
        expectSubmitRevert(
            RiskParams(8_000, 8_149, 500),
            abi.encodeWithSelector(IG.DecreaseTooLarge.selector, uint8(1), 8_250, 8_149, 100)
        );
    }

    function test_submitUpdate_directionLimitsDiffer() public {
        submit(RiskParams(7_800, 8_250, 500)); // -200 allowed for LTV
        assertEq(params(address(weth)).ltv, 7_800, "fast de-risking");
    }

    function test_submitUpdate_revertsWithinMinDelay() public {
        submit(RiskParams(7_900, 8_250, 500));
        uint256 next = block.timestamp + 1 days;
        vm.warp(next - 1);
        expectSubmitRevert(
            RiskParams(7_850, 8_250, 500), abi.encodeWithSelector(IG.TooSoon.selector, uint8(0), next)
        );
        vm.warp(next);
        submit(RiskParams(7_850, 8_250, 500));
        assertEq(params(address(weth)).ltv, 7_850, "allowed after delay");
    }

    function test_submitUpdate_delayIsPerParameter() public {
        submit(RiskParams(7_900, 8_250, 500));
        submit(RiskParams(7_900, 8_250, 550)); // LB never changed: no delay
        assertEq(params(address(weth)).liquidationBonus, 550, "lb moved");
    }

    function test_submitUpdate_revertsWhenLtvNotBelowLt() public {
        ParamBounds[3] memory b = defaultBounds();
        b[0].maxIncreaseBps = 1_000;
        vm.prank(OWNER);
        governor.setBounds(address(weth), b);
        expectSubmitRevert(
            RiskParams(8_250, 8_250, 500), abi.encodeWithSelector(IG.LtvNotBelowThreshold.selector, 8_250, 8_250)
        );
    }

    function test_submitUpdate_revertsWhenBonusCreatesBadDebt() public {
        // 8300 x (10000 + 1100) = 92.13e6 < 1e8 is fine; 9000 x 11200 = 100.8e6 is not.
        ParamBounds[3] memory b = defaultBounds();
        b[1].maxIncreaseBps = 1_000;
        b[2].maxIncreaseBps = 1_000;
        vm.prank(OWNER);
        governor.setBounds(address(weth), b);
        expectSubmitRevert(
            RiskParams(8_000, 9_000, 1_200), abi.encodeWithSelector(IG.BonusCreatesBadDebt.selector, 9_000, 1_200)
        );
    }

    // ---------------------------------------------------------------- guardian

    function test_guardianTighten_lowersLtvRaisesBonus() public {
        vm.expectEmit(true, true, true, true);
        emit IG.GuardianTightened(address(weth), 1, GUARDIAN);
        vm.prank(GUARDIAN);
        governor.guardianTighten(address(weth), RiskParams(7_800, 8_250, 600), REPORT);
        RiskParams memory p = params(address(weth));
        assertEq(p.ltv, 7_800, "ltv");
        assertEq(p.liquidationBonus, 600, "lb");
    }

    function test_guardianTighten_revertsForNonGuardian() public {
        vm.expectRevert(abi.encodeWithSelector(IG.NotGuardian.selector, KEEPER));
        vm.prank(KEEPER);
        governor.guardianTighten(address(weth), RiskParams(7_800, 8_250, 500), REPORT);
    }

    function test_guardianTighten_revertsOnLtvIncrease() public {
        vm.expectRevert(abi.encodeWithSelector(IG.GuardianMayOnlyTighten.selector, uint8(0), 8_000, 8_010));
        vm.prank(GUARDIAN);
        governor.guardianTighten(address(weth), RiskParams(8_010, 8_250, 500), REPORT);
    }

    function test_guardianTighten_revertsOnThresholdChange() public {
        vm.expectRevert(abi.encodeWithSelector(IG.GuardianMayOnlyTighten.selector, uint8(1), 8_250, 8_200));
        vm.prank(GUARDIAN);
        governor.guardianTighten(address(weth), RiskParams(8_000, 8_200, 500), REPORT);
    }

    function test_guardianTighten_revertsOnBonusDecrease() public {
        vm.expectRevert(abi.encodeWithSelector(IG.GuardianMayOnlyTighten.selector, uint8(2), 500, 450));
        vm.prank(GUARDIAN);
        governor.guardianTighten(address(weth), RiskParams(8_000, 8_250, 450), REPORT);
    }

    function test_guardianTighten_stillBoundByStep() public {
        vm.expectRevert(abi.encodeWithSelector(IG.DecreaseTooLarge.selector, uint8(0), 8_000, 7_000, 200));
        vm.prank(GUARDIAN);
        governor.guardianTighten(address(weth), RiskParams(7_000, 8_250, 500), REPORT);
    }

    function test_guardianTighten_revertsWhenPaused() public {
        vm.prank(GUARDIAN);
        governor.pause();
        vm.expectRevert(abi.encodeWithSelector(IG.GovernorPaused.selector));
        vm.prank(GUARDIAN);
        governor.guardianTighten(address(weth), RiskParams(7_800, 8_250, 500), REPORT);
    }

    function test_guardianTighten_revertsOnUnconfiguredAsset() public {
        vm.expectRevert(abi.encodeWithSelector(IG.AssetNotConfigured.selector, address(usd)));
        vm.prank(GUARDIAN);
        governor.guardianTighten(address(usd), RiskParams(7_800, 8_250, 500), REPORT);
    }

    // ------------------------------------------------------------------- pause

    function test_pause_byGuardianAndUnpauseByOwner() public {
        vm.expectEmit(true, false, false, true);
        emit IG.Paused(GUARDIAN);
        vm.prank(GUARDIAN);
        governor.pause();
        assertTrue(governor.paused(), "paused");
        vm.expectEmit(true, false, false, true);
        emit IG.Unpaused(OWNER);
        vm.prank(OWNER);
        governor.unpause();
        assertTrue(!governor.paused(), "unpaused");
    }

    function test_pause_byOwner() public {
        vm.expectEmit(true, false, false, true);
        emit IG.Paused(OWNER);
        vm.prank(OWNER);
        governor.pause();
        assertTrue(governor.paused(), "paused");
    }

    function test_pause_revertsForOthers() public {
        vm.expectRevert(abi.encodeWithSelector(IG.NotGuardianOrOwner.selector, KEEPER, GUARDIAN, OWNER));
        vm.prank(KEEPER);
        governor.pause();
    }

    /// @notice `pause` names the caller and both accounts that may pause, and follows role changes: a former
    ///         guardian or owner is a stranger, the new ones may pause.
    function test_pause_revertNamesWhoMayPause() public {
        vm.expectRevert(abi.encodeWithSelector(IG.NotGuardianOrOwner.selector, ALICE, GUARDIAN, OWNER));
        vm.prank(ALICE);
        governor.pause();

        vm.startPrank(OWNER);
        governor.setGuardian(ALICE);
        governor.transferOwnership(KEEPER);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(IG.NotGuardianOrOwner.selector, GUARDIAN, ALICE, KEEPER));
        vm.prank(GUARDIAN);
        governor.pause();
        vm.expectRevert(abi.encodeWithSelector(IG.NotGuardianOrOwner.selector, OWNER, ALICE, KEEPER));
        vm.prank(OWNER);
        governor.pause();

        vm.prank(ALICE); // the new guardian
        governor.pause();
        assertTrue(governor.paused(), "paused by new guardian");
        vm.prank(KEEPER); // the new owner
        governor.unpause();
        vm.prank(KEEPER);
        governor.pause();
        assertTrue(governor.paused(), "paused by new owner");
    }

    function test_pause_revertsForOthersWithoutGuardian() public {
        vm.prank(OWNER);
        governor.setGuardian(address(0));
        vm.expectRevert(abi.encodeWithSelector(IG.NotGuardianOrOwner.selector, ALICE, address(0), OWNER));
        vm.prank(ALICE);
        governor.pause();
        vm.prank(OWNER);
        governor.pause();
        assertTrue(governor.paused(), "owner alone may pause");
    }

    function test_pause_roleCheckBeforePausedCheck() public {
        vm.prank(GUARDIAN);
        governor.pause();
        vm.expectRevert(abi.encodeWithSelector(IG.NotGuardianOrOwner.selector, ALICE, GUARDIAN, OWNER));
        vm.prank(ALICE);
        governor.pause();
    }

    function testFuzz_pause_onlyGuardianOrOwner(address caller) public {
        vm.assume(caller != GUARDIAN && caller != OWNER);
        vm.expectRevert(abi.encodeWithSelector(IG.NotGuardianOrOwner.selector, caller, GUARDIAN, OWNER));
        vm.prank(caller);
        governor.pause();
        assertTrue(!governor.paused(), "still unpaused");
    }

    function test_pause_errorSelector() public pure {
        assertTrue(
            IG.NotGuardianOrOwner.selector == bytes4(keccak256("NotGuardianOrOwner(address,address,address)")),
            "NotGuardianOrOwner(address,address,address)"
        );
        assertTrue(IG.NotGuardian.selector == bytes4(keccak256("NotGuardian(address)")), "NotGuardian unchanged");
    }

    function test_pause_revertsWhenAlreadyPaused() public {
        vm.prank(GUARDIAN);
        governor.pause();
        vm.expectRevert(abi.encodeWithSelector(IG.GovernorPaused.selector));
        vm.prank(GUARDIAN);
        governor.pause();
    }

    function test_unpause_revertsForGuardian() public {
        vm.prank(GUARDIAN);
        governor.pause();
        vm.expectRevert(abi.encodeWithSelector(IG.NotOwner.selector, GUARDIAN));
        vm.prank(GUARDIAN);
        governor.unpause();
    }

    function test_unpause_revertsWhenNotPaused() public {
        vm.expectRevert(abi.encodeWithSelector(IG.GovernorNotPaused.selector));
        vm.prank(OWNER);
        governor.unpause();
    }

    // ------------------------------------------------------------------- views

    function test_checkUpdate_emptyWhenValid() public view {
        bytes memory err = governor.checkUpdate(address(weth), RiskParams(7_900, 8_250, 500), block.timestamp);
        assertEq(err.length, 0, "valid");
    }

    function test_checkUpdate_returnsRevertData() public view {
        bytes memory err = governor.checkUpdate(address(weth), RiskParams(8_100, 8_250, 500), block.timestamp);
        assertEq(err, abi.encodeWithSelector(IG.IncreaseTooLarge.selector, uint8(0), 8_000, 8_100, 50), "data");
    }

    function test_nextAllowedAt() public {
        uint256[3] memory before = governor.nextAllowedAt(address(weth));
        assertEq(before[0], 0, "never changed");
        submit(RiskParams(7_900, 8_250, 500));
        uint256[3] memory next = governor.nextAllowedAt(address(weth));
        assertEq(next[0], block.timestamp + 1 days, "ltv");
        assertEq(next[1], 0, "lt");
    }

    function test_validateChange_isPure() public view {
        ParamBounds[3] memory b = defaultBounds();
        uint64[3] memory last;
        bytes memory ok =
            governor.validateChange(address(weth), wethParams(), RiskParams(7_950, 8_250, 500), b, last, T0);
        assertEq(ok.length, 0, "ok");
        last[0] = uint64(T0);
        bytes memory soon =
            governor.validateChange(address(weth), wethParams(), RiskParams(7_950, 8_250, 500), b, last, T0 + 10);
        assertEq(soon, abi.encodeWithSelector(IG.TooSoon.selector, uint8(0), T0 + 1 days), "too soon");
    }
}
