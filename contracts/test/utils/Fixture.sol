// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "./Test.sol";
import {RiskParameterGovernor} from "../../RiskParameterGovernor.sol";
import {LendingMarket} from "../../market/LendingMarket.sol";
import {PriceFeed} from "../../market/PriceFeed.sol";
import {TestToken} from "../../market/TestToken.sol";
import {IRiskTarget} from "../../interfaces/IRiskTarget.sol";
import {RiskParams, ParamBounds} from "../../interfaces/RiskTypes.sol";

/// @notice A deployed reference market with two collateral assets behind a governor, shared by the tests.
abstract contract Fixture is Test {
    address internal constant OWNER = address(0xD00D);
    address internal constant KEEPER = address(0xBEEF);
    address internal constant GUARDIAN = address(0x6A4D);
    address internal constant LENDER = address(0x1E4D);
    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);
    address internal constant LIQUIDATOR = address(0x11C);

    uint256 internal constant T0 = 1_700_000_000;

    TestToken internal usd;
    TestToken internal weth;
    TestToken internal wbtc;
    PriceFeed internal wethFeed;
    PriceFeed internal wbtcFeed;
    LendingMarket internal market;
    RiskParameterGovernor internal governor;

    function setUp() public virtual {
        vm.warp(T0);
        usd = new TestToken("USD Stable", "USDS", 6, address(this));
        weth = new TestToken("Wrapped Ether", "WETH", 18, address(this));
        wbtc = new TestToken("Wrapped Bitcoin", "WBTC", 8, address(this));
        wethFeed = new PriceFeed(8, "ETH / USD", address(this));
        wbtcFeed = new PriceFeed(8, "BTC / USD", address(this));
        wethFeed.updateAnswer(2_000e8);
        wbtcFeed.updateAnswer(40_000e8);

        market = new LendingMarket(usd, address(this));
        market.listAsset(address(weth), wethFeed, wethParams());
        market.listAsset(address(wbtc), wbtcFeed, RiskParams(7_300, 7_800, 650));
        governor = new RiskParameterGovernor(IRiskTarget(address(market)), OWNER, KEEPER, GUARDIAN);
        market.setRiskAdmin(address(governor));

        vm.startPrank(OWNER);
        governor.setBounds(address(weth), defaultBounds());
        governor.setBounds(address(wbtc), defaultBounds());
        vm.stopPrank();

        usd.mint(LENDER, 10_000_000e6);
        vm.startPrank(LENDER);
        usd.approve(address(market), type(uint256).max);
        market.supply(1_000_000e6);
        vm.stopPrank();
    }

    function wethParams() internal pure returns (RiskParams memory) {
        return RiskParams(8_000, 8_250, 500);
    }

    /// @notice LTV, LT, LB bounds: loosening by 50 bps at most, de-risking faster, days between changes.
    function defaultBounds() internal pure returns (ParamBounds[3] memory b) {
        b[0] = ParamBounds({min: 5_000, max: 8_500, maxIncreaseBps: 50, maxDecreaseBps: 200, minDelay: 1 days});
        b[1] = ParamBounds({min: 6_000, max: 9_000, maxIncreaseBps: 50, maxDecreaseBps: 100, minDelay: 3 days});
        b[2] = ParamBounds({min: 300, max: 1_500, maxIncreaseBps: 100, maxDecreaseBps: 50, minDelay: 1 days});
    }

    function params(address asset) internal view returns (RiskParams memory) {
        return market.getRiskParams(asset);
    }

    /// @notice Gives `who` collateral, deposits it and borrows `debt`.
    function openPosition(address who, TestToken asset, uint256 collateral, uint256 debt) internal {
        asset.mint(who, collateral);
        vm.startPrank(who);
        asset.approve(address(market), type(uint256).max);
        usd.approve(address(market), type(uint256).max);
        market.deposit(address(asset), collateral);
        if (debt != 0) market.borrow(debt);
        vm.stopPrank();
    }
}
