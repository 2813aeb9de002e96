// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {Test} from "./utils/Test.sol";
import {RiskParameterGovernor} from "../RiskParameterGovernor.sol";
import {LendingMarket} from "../market/LendingMarket.sol";
import {PriceFeed} from "../market/PriceFeed.sol";
import {TestToken} from "../market/TestToken.sol";
import {RiskParams, ParamBounds} from "../interfaces/RiskTypes.sol";

/// @notice Drives random owner / keeper / guardian / borrower / liquidator actions and time warps, and checks
///         after every action that each parameter change obeyed the bounds in force when it happened.
contract GovernorHandler is Test {
    address internal constant OWNER = address(0xD00D);
    address internal constant KEEPER = address(0xBEEF);
    address internal constant GUARDIAN = address(0x6A4D);
    address internal constant LIQUIDATOR = address(0x11C);

    RiskParameterGovernor internal immutable governor;
    LendingMarket internal immutable market;
    TestToken internal immutable usd;
    TestToken[2] internal collateral;
    PriceFeed[2] internal feeds;
    address[3] internal borrowers = [address(0xA1), address(0xA2), address(0xA3)];
    /// @dev Mints the test tokens and pushes feed rounds (the fixture deployed them).
    address internal immutable admin;

    mapping(address asset => uint256[3]) public ghostLastChange;
    /// @notice Counters of broken rules; the invariants require them to stay zero.
    uint256 public outOfRange;
    uint256 public oversizedStep;
    uint256 public tooSoon;
    uint256 public changedWhilePaused;
    uint256 public guardianLoosened;
    uint256 public nonIncreasingId;
    /// @notice How many calls actually changed parameters (shows the campaign did something).
    uint256 public appliedChanges;
    uint256 public liquidations;
    uint256 public calls;

    constructor(
        RiskParameterGovernor governor_,
        LendingMarket market_,
        TestToken usd_,
        TestToken[2] memory collateral_,
        PriceFeed[2] memory feeds_,
        address admin_
    ) {
        admin = admin_;
        governor = governor_;
        market = market_;
        usd = usd_;
        collateral = collateral_;
        feeds = feeds_;
        for (uint256 i = 0; i < 3; ++i) {
            vm.startPrank(borrowers[i]);
            usd.approve(address(market), type(uint256).max);
            collateral[0].approve(address(market), type(uint256).max);
            collateral[1].approve(address(market), type(uint256).max);
            vm.stopPrank();
        }
        vm.prank(LIQUIDATOR);
        usd.approve(address(market), type(uint256).max);
    }

    function _asset(uint256 seed) internal view returns (address) {
        return address(collateral[seed % 2]);
    }

    function _get(RiskParams memory p, uint256 i) internal pure returns (uint256) {
        return i == 0 ? p.ltv : i == 1 ? p.liquidationThreshold : p.liquidationBonus;
    }

    /// @dev Checks one action's effect on an asset's parameters against the bounds before the action.
    function _audit(address asset, RiskParams memory before, uint256 idBefore, bool wasPaused, bool byGuardian)
        internal
    {
        RiskParams memory got = market.getRiskParams(asset);
        ParamBounds[3] memory b = governor.getBounds(asset);
        bool changed = false;
        for (uint256 i = 0; i < 3; ++i) {
            uint256 from = _get(before, i);
            uint256 to = _get(got, i);
            if (to < b[i].min || to > b[i].max) ++outOfRange;
            if (to == from) continue;
            changed = true;
            if (to > from ? to - from > b[i].maxIncreaseBps : from - to > b[i].maxDecreaseBps) ++oversizedStep;
            uint256 last = ghostLastChange[asset][i];
            if (last != 0 && block.timestamp < last + b[i].minDelay) ++tooSoon;
            ghostLastChange[asset][i] = block.timestamp;
            if (byGuardian && (i == 0 ? to > from : i == 1 ? true : to < from)) ++guardianLoosened;
        }
        if (changed) {
            ++appliedChanges;
            if (wasPaused) ++changedWhilePaused;
            if (governor.lastUpdateId(asset) != idBefore + 1) ++nonIncreasingId;
        }
    }

    function _propose(RiskParams memory cur, uint256 seed) internal pure returns (RiskParams memory) {
        // steps of -250 .. +250 bps per parameter, 0 a third of the time
        int256[3] memory d;
        for (uint256 i = 0; i < 3; ++i) {
            uint256 s = uint256(keccak256(abi.encode(seed, i)));
            d[i] = s % 3 == 0 ? int256(0) : int256((s >> 8) % 501) - 250;
        }
        return RiskParams(_step(cur.ltv, d[0]), _step(cur.liquidationThreshold, d[1]), _step(cur.liquidationBonus, d[2]));
    }

    function _step(uint16 v, int256 d) internal pure returns (uint16) {
        int256 x = int256(uint256(v)) + d;
        if (x < 0) x = 0;
        if (x > 10_000) x = 10_000;
        return uint16(uint256(x));
    }

    // ---------------------------------------------------------------- actions

    function keeperSubmit(uint256 assetSeed, uint256 seed, uint256 ttl) external {
        ++calls;
        address asset = _asset(assetSeed);
        RiskParams memory before = market.getRiskParams(asset);
        uint256 id = governor.lastUpdateId(asset);
        bool wasPaused = governor.paused();
        vm.prank(KEEPER);
        try governor.submitUpdate(asset, _propose(before, seed), keccak256(abi.encode(seed)), block.timestamp + ttl % 2
            - (ttl % 3 == 0 ? 1 : 0)) {} catch {}
        _audit(asset, before, id, wasPaused, false);
    }

    function guardianTighten(uint256 assetSeed, uint256 seed) external {
        ++calls;
        address asset = _asset(assetSeed);
        RiskParams memory before = market.getRiskParams(asset);
        uint256 id = governor.lastUpdateId(asset);
        bool wasPaused = governor.paused();
        vm.prank(GUARDIAN);
        try governor.guardianTighten(asset, _propose(before, seed), bytes32(0)) {} catch {}
        _audit(asset, before, id, wasPaused, true);
    }

    function guardianPause() external {
        ++calls;
        vm.prank(GUARDIAN);
        try governor.pause() {} catch {}
    }

    function ownerUnpause() external {
        ++calls;
        vm.prank(OWNER);
        try governor.unpause() {} catch {}
    }

    function ownerSetBounds(uint256 assetSeed, uint256 seed) external {
        ++calls;
        address asset = _asset(assetSeed);
        RiskParams memory cur = market.getRiskParams(asset);
        ParamBounds[3] memory b;
        for (uint256 i = 0; i < 3; ++i) {
            uint256 s = uint256(keccak256(abi.encode(seed, i)));
            uint256 v = _get(cur, i);
            uint256 lo = v - (s % 1_500 > v ? v : s % 1_500);
            uint256 hi = v + (s >> 16) % 1_500;
            if (hi > 10_000) hi = 10_000;
            b[i] = ParamBounds(uint16(lo), uint16(hi), uint16((s >> 32) % 300), uint16((s >> 48) % 300),
                uint32((s >> 64) % 3 days));
        }
        vm.prank(OWNER);
        try governor.setBounds(asset, b) {} catch {}
    }

    function warp(uint256 dt) external {
        ++calls;
        vm.warp(block.timestamp + dt % 2 days);
    }

    function movePrice(uint256 assetSeed, uint256 moveBps) external {
        ++calls;
        PriceFeed feed = feeds[assetSeed % 2];
        (, int256 p,,,) = feed.latestRoundData();
        int256 next = p * (10_000 + int256(moveBps % 3_001) - 1_800) / 10_000; // -18 % .. +12 %
        if (next < 1e6) next = 1e6;
        vm.prank(admin);
        feed.updateAnswer(next);
    }

    function borrowerOpen(uint256 who, uint256 assetSeed, uint256 amount, uint256 borrowBps) external {
        ++calls;
        address b = borrowers[who % 3];
        TestToken token = collateral[assetSeed % 2];
        uint256 units = bound(amount, 1, 100) * 10 ** token.decimals() / 10;
        vm.prank(admin);
        token.mint(b, units);
        vm.startPrank(b);
        market.deposit(address(token), units);
        LendingMarket.AccountData memory d = market.accountData(b);
        if (d.borrowLimit > d.debtValue) {
            uint256 room = (d.borrowLimit - d.debtValue) / 1e12; // WAD -> 6-decimal stable
            uint256 want = room * (borrowBps % 10_001) / 10_000;
            if (want != 0) try market.borrow(want) {} catch {}
        }
        vm.stopPrank();
    }

    function borrowerRepay(uint256 who, uint256 amount) external {
        ++calls;
        address b = borrowers[who % 3];
        uint256 debt = market.debtOf(b);
        if (debt == 0) return;
        vm.prank(admin);
        usd.mint(b, debt);
        vm.prank(b);
        market.repay(b, bound(amount, 1, debt));
    }

    function borrowerWithdraw(uint256 who, uint256 assetSeed, uint256 amount) external {
        ++calls;
        address b = borrowers[who % 3];
        address asset = _asset(assetSeed);
        uint256 held = market.collateralOf(b, asset);
        if (held == 0) return;
        vm.prank(b);
        try market.withdraw(asset, bound(amount, 1, held)) {} catch {}
    }

    function liquidate(uint256 who, uint256 assetSeed) external {
        ++calls;
        address b = borrowers[who % 3];
        if (market.healthFactor(b) >= 1e18) return;
        uint256 debt = market.debtOf(b);
        vm.prank(admin);
        usd.mint(LIQUIDATOR, debt);
        vm.prank(LIQUIDATOR);
        try market.liquidate(b, _asset(assetSeed), type(uint256).max) {
            ++liquidations;
        } catch {}
    }

    function borrowerList() external view returns (address[3] memory) {
        return borrowers;
    }
}

/// @notice Invariants of the governor and the market under random actions of every role.
contract GovernorInvariantTest is Fixture {
    GovernorHandler internal handler;

    function setUp() public override {
        super.setUp();
        handler = new GovernorHandler(governor, market, usd, [weth, wbtc], [wethFeed, wbtcFeed], address(this));
    }

    /// @notice The handler reaches the states the invariants are about: changes land, liquidations happen.
    function test_handlerExercisesChangesAndLiquidations() public {
        for (uint256 i = 0; i < 400; ++i) {
            uint256 s = uint256(keccak256(abi.encode(i)));
            handler.warp(s >> 200);
            handler.keeperSubmit(s, s >> 8, 1);
            handler.guardianTighten(s >> 16, s >> 24);
            handler.borrowerOpen(s >> 32, s >> 40, s >> 48, 9_000 + (s >> 56) % 1_000);
            handler.movePrice(s >> 64, s >> 72);
            handler.liquidate(s >> 80, s >> 88);
            if (i % 50 == 0) handler.ownerSetBounds(s >> 96, s >> 104);
        }
        assertTrue(handler.appliedChanges() > 20, "parameter changes applied");
        assertTrue(handler.liquidations() > 0, "liquidations happened");
        invariant_booksBalance();
        invariant_parametersInsideBounds();
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function _assets() internal view returns (address[2] memory) {
        return [address(weth), address(wbtc)];
    }

    function invariant_parametersInsideBounds() public view {
        for (uint256 a = 0; a < 2; ++a) {
            RiskParams memory p = market.getRiskParams(_assets()[a]);
            ParamBounds[3] memory b = governor.getBounds(_assets()[a]);
            assertTrue(p.ltv >= b[0].min && p.ltv <= b[0].max, "ltv in bounds");
            assertTrue(
                p.liquidationThreshold >= b[1].min && p.liquidationThreshold <= b[1].max, "lt in bounds"
            );
            assertTrue(p.liquidationBonus >= b[2].min && p.liquidationBonus <= b[2].max, "lb in bounds");
        }
        assertEq(handler.outOfRange(), 0, "never out of range after a change");
    }

    function invariant_linkedRules() public view {
        for (uint256 a = 0; a < 2; ++a) {
            RiskParams memory p = market.getRiskParams(_assets()[a]);
            assertLt(p.ltv, p.liquidationThreshold, "LTV < LT");
            assertLt(uint256(p.liquidationThreshold) * (10_000 + uint256(p.liquidationBonus)), 1e8, "LT(1+LB) < 1");
        }
    }

    function invariant_stepsWithinDirectionLimits() public view {
        assertEq(handler.oversizedStep(), 0, "step over its direction's limit");
    }

    function invariant_minDelayRespected() public view {
        assertEq(handler.tooSoon(), 0, "two changes within min delay");
    }

    function invariant_pausedChangesNothing() public view {
        assertEq(handler.changedWhilePaused(), 0, "changed while paused");
    }

    function invariant_guardianNeverLoosens() public view {
        assertEq(handler.guardianLoosened(), 0, "guardian loosened");
    }

    function invariant_updateIdsStrictlyIncrease() public view {
        assertEq(handler.nonIncreasingId(), 0, "update id not +1");
    }

    function invariant_booksBalance() public view {
        uint256 cash = usd.balanceOf(address(market));
        assertEq(cash + market.totalDebt() + market.badDebt(), market.totalSupplied(), "cash + debt + bad = supplied");
        address[3] memory bs = handler.borrowerList();
        for (uint256 a = 0; a < 2; ++a) {
            address asset = _assets()[a];
            uint256 sum = 0;
            for (uint256 i = 0; i < 3; ++i) {
                sum += market.collateralOf(bs[i], asset);
            }
            assertEq(sum, market.totalCollateral(asset), "collateral sum");
            assertEq(TestToken(asset).balanceOf(address(market)), market.totalCollateral(asset), "collateral held");
        }
        uint256 debts = 0;
        for (uint256 i = 0; i < 3; ++i) {
            debts += market.debtOf(bs[i]);
        }
        assertEq(debts, market.totalDebt(), "debt sum");
    }
}
