// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {LendingMarket as M} from "../market/LendingMarket.sol";
import {PriceFeed} from "../market/PriceFeed.sol";
import {TestToken} from "../market/TestToken.sol";
import {RiskParams} from "../interfaces/RiskTypes.sol";

/// @notice Unit tests of the reference market: every external function and every revert.
contract LendingMarketTest is Fixture {
    // ------------------------------------------------------------------- admin

    function test_listAsset_revertsForNonOwner() public {
        TestToken link = new TestToken("Chainlink", "LINK", 18, address(this));
        vm.expectRevert(abi.encodeWithSelector(M.NotOwner.selector, ALICE));
        vm.prank(ALICE);
        market.listAsset(address(link), wethFeed, RiskParams(6_000, 7_000, 700));
    }

    function test_listAsset_revertsWhenListed() public {
        vm.expectRevert(abi.encodeWithSelector(M.AssetAlreadyListed.selector, address(weth)));
        market.listAsset(address(weth), wethFeed, wethParams());
    }

    function test_listAsset_revertsOnInvalidParams() public {
        TestToken link = new TestToken("Chainlink", "LINK", 18, address(this));
        vm.expectRevert(abi.encodeWithSelector(M.InvalidParams.selector));
        market.listAsset(address(link), wethFeed, RiskParams(7_000, 7_000, 700));
    }

    function test_listAsset_storesConfig() public {
        TestToken link = new TestToken("Chainlink", "LINK", 18, address(this));
        market.listAsset(address(link), wethFeed, RiskParams(6_000, 7_000, 700));
        M.CollateralConfig memory cfg = market.collateralConfig(address(link));
        assertEq(cfg.tokenDecimals, 18, "decimals");
        assertEq(cfg.feedDecimals, 8, "feed decimals");
        assertEq(market.assets().length, 3, "listed");
        assertTrue(market.isListedAsset(address(link)), "isListed");
    }

    function test_collateralConfig_revertsOnUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(M.UnknownAsset.selector, address(usd)));
        market.collateralConfig(address(usd));
    }

    function test_getRiskParams_revertsOnUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(M.UnknownAsset.selector, address(usd)));
        market.getRiskParams(address(usd));
    }

    function test_setRiskParams_onlyRiskAdmin() public {
        vm.expectRevert(abi.encodeWithSelector(M.NotRiskAdmin.selector, address(this)));
        market.setRiskParams(address(weth), RiskParams(1, 2, 3));
    }

    function test_setRiskParams_revertsOnUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(M.UnknownAsset.selector, address(usd)));
        vm.prank(address(governor));
        market.setRiskParams(address(usd), RiskParams(1, 2, 3));
    }

    function test_setRiskAdmin_revertsForNonOwner() public {
        vm.expectRevert(abi.encodeWithSelector(M.NotOwner.selector, ALICE));
        vm.prank(ALICE);
        market.setRiskAdmin(ALICE);
    }

    function test_setCloseFactor() public {
        market.setCloseFactor(10_000);
        assertEq(market.closeFactorBps(), 10_000, "set");
        vm.expectRevert(abi.encodeWithSelector(M.InvalidParams.selector));
        market.setCloseFactor(0);
        vm.expectRevert(abi.encodeWithSelector(M.InvalidParams.selector));
        market.setCloseFactor(10_001);
        vm.expectRevert(abi.encodeWithSelector(M.NotOwner.selector, ALICE));
        vm.prank(ALICE);
        market.setCloseFactor(5_000);
    }

    // ----------------------------------------------------------------- lenders

    function test_supplyAndWithdraw() public {
        vm.startPrank(LENDER);
        market.supply(100e6);
        market.withdrawSupply(50e6);
        vm.stopPrank();
        assertEq(market.suppliedOf(LENDER), 1_000_050e6, "balance");
        assertEq(market.totalSupplied(), 1_000_050e6, "total");
    }

    function test_supply_revertsOnZero() public {
        vm.expectRevert(abi.encodeWithSelector(M.ZeroAmount.selector));
        vm.prank(LENDER);
        market.supply(0);
    }

    function test_withdrawSupply_reverts() public {
        vm.startPrank(LENDER);
        vm.expectRevert(abi.encodeWithSelector(M.ZeroAmount.selector));
        market.withdrawSupply(0);
        vm.expectRevert(abi.encodeWithSelector(M.InsufficientBalance.selector, 2_000_000e6, 1_000_000e6));
        market.withdrawSupply(2_000_000e6);
        vm.stopPrank();
        openPosition(ALICE, weth, 1_000e18, 500_000e6);
        vm.expectRevert(abi.encodeWithSelector(M.InsufficientLiquidity.selector, 1_000_000e6, 500_000e6));
        vm.prank(LENDER);
        market.withdrawSupply(1_000_000e6);
    }

    // --------------------------------------------------------------- borrowers

    function test_depositBorrowAndHealth() public {
        openPosition(ALICE, weth, 10e18, 10_000e6);
        M.AccountData memory d = market.accountData(ALICE);
        assertEq(d.collateralValue, 20_000e18, "collateral value");
        assertEq(d.borrowLimit, 16_000e18, "borrow limit");
        assertEq(d.liquidationValue, 16_500e18, "liquidation value");
        assertEq(d.debtValue, 10_000e18, "debt");
        assertEq(market.healthFactor(ALICE), 1.65e18, "hf");
        assertEq(usd.balanceOf(ALICE), 10_000e6, "received");
    }

    function test_healthFactor_maxWithoutDebt() public {
        openPosition(ALICE, weth, 1e18, 0);
        assertEq(market.healthFactor(ALICE), type(uint256).max, "no debt");
    }

    function test_deposit_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(M.UnknownAsset.selector, address(usd)));
        market.deposit(address(usd), 1);
        vm.expectRevert(abi.encodeWithSelector(M.ZeroAmount.selector));
        market.deposit(address(weth), 0);
    }

    function test_withdraw() public {
        openPosition(ALICE, weth, 10e18, 0);
        vm.prank(ALICE);
        market.withdraw(address(weth), 4e18);
        assertEq(market.collateralOf(ALICE, address(weth)), 6e18, "left");
        assertEq(weth.balanceOf(ALICE), 4e18, "back");
    }

    function test_withdraw_reverts() public {
        openPosition(ALICE, weth, 10e18, 15_000e6);
        vm.startPrank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(M.ZeroAmount.selector));
        market.withdraw(address(weth), 0);
        vm.expectRevert(abi.encodeWithSelector(M.InsufficientBalance.selector, 11e18, 10e18));
        market.withdraw(address(weth), 11e18);
        // 9 WETH left = 18,000 USD x 80 % = 14,400 < 15,000 debt
        vm.expectRevert(abi.encodeWithSelector(M.InsufficientCollateral.selector, ALICE, 15_000e18, 14_400e18));
        market.withdraw(address(weth), 1e18);
        vm.stopPrank();
    }

    function test_borrow_reverts() public {
        openPosition(ALICE, weth, 10e18, 0);
        vm.startPrank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(M.ZeroAmount.selector));
        market.borrow(0);
        vm.expectRevert(abi.encodeWithSelector(M.InsufficientCollateral.selector, ALICE, 16_001e18, 16_000e18));
        market.borrow(16_001e6);
        vm.expectRevert(abi.encodeWithSelector(M.InsufficientLiquidity.selector, 2_000_000e6, 1_000_000e6));
        market.borrow(2_000_000e6);
        vm.stopPrank();
    }

    function test_repay_partialAndCapped() public {
        openPosition(ALICE, weth, 10e18, 10_000e6);
        usd.mint(BOB, 20_000e6);
        vm.startPrank(BOB);
        usd.approve(address(market), type(uint256).max);
        assertEq(market.repay(ALICE, 4_000e6), 4_000e6, "partial");
        assertEq(market.repay(ALICE, 50_000e6), 6_000e6, "capped at debt");
        vm.stopPrank();
        assertEq(market.debtOf(ALICE), 0, "repaid");
        assertEq(market.totalDebt(), 0, "total");
    }

    function test_repay_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(M.NoDebt.selector, ALICE));
        market.repay(ALICE, 1);
        openPosition(ALICE, weth, 10e18, 10_000e6);
        vm.expectRevert(abi.encodeWithSelector(M.ZeroAmount.selector));
        market.repay(ALICE, 0);
    }

    function test_positionsEnumerable() public {
        openPosition(ALICE, weth, 10e18, 1_000e6);
        openPosition(BOB, wbtc, 1e8, 0);
        assertEq(market.borrowersCount(), 2, "count");
        assertEq(market.borrowerAt(0), ALICE, "first");
        assertEq(market.borrowerAt(1), BOB, "second");
        (uint256[] memory coll, uint256 debt) = market.positionOf(BOB);
        assertEq(coll[0], 0, "no weth");
        assertEq(coll[1], 1e8, "wbtc");
        assertEq(debt, 0, "no debt");
    }

    function test_price_revertsOnNonPositive() public {
        openPosition(ALICE, weth, 10e18, 1_000e6);
        wethFeed.updateAnswer(0);
        vm.expectRevert(abi.encodeWithSelector(M.InvalidPrice.selector, address(weth), int256(0)));
        market.priceOf(address(weth));
    }

    // -------------------------------------------------------------- liquidation

    function fundLiquidator() internal {
        usd.mint(LIQUIDATOR, 10_000_000e6);
        vm.prank(LIQUIDATOR);
        usd.approve(address(market), type(uint256).max);
    }

    function test_liquidate_revertsWhenHealthy() public {
        openPosition(ALICE, weth, 10e18, 10_000e6);
        fundLiquidator();
        vm.expectRevert(abi.encodeWithSelector(M.PositionHealthy.selector, ALICE, 1.65e18));
        vm.prank(LIQUIDATOR);
        market.liquidate(ALICE, address(weth), 1_000e6);
    }

    function test_liquidate_revertsOnUnknownAssetAndZero() public {
        vm.expectRevert(abi.encodeWithSelector(M.UnknownAsset.selector, address(usd)));
        market.liquidate(ALICE, address(usd), 1);
        vm.expectRevert(abi.encodeWithSelector(M.ZeroAmount.selector));
        market.liquidate(ALICE, address(weth), 0);
    }

    function test_liquidate_closeFactorAndBonus() public {
        openPosition(ALICE, weth, 10e18, 16_000e6);
        wethFeed.updateAnswer(1_900e8); // HF = 19,000 x 0.825 / 16,000 = 0.98
        fundLiquidator();
        vm.prank(LIQUIDATOR);
        (uint256 repaid, uint256 seized) = market.liquidate(ALICE, address(weth), type(uint256).max);
        assertEq(repaid, 8_000e6, "close factor 50 %");
        // 8,000 USD x 1.05 / 1,900 USD per WETH
        assertEq(seized, uint256(8_000e18) * 10_500 / 10_000 / 1_900, "bonus");
        assertEq(market.debtOf(ALICE), 8_000e6, "debt left");
        assertEq(weth.balanceOf(LIQUIDATOR), seized, "seized to liquidator");
    }

    function test_liquidate_fullBelowHf095() public {
        openPosition(ALICE, weth, 10e18, 16_000e6);
        wethFeed.updateAnswer(1_800e8); // HF = 0.928
        fundLiquidator();
        vm.prank(LIQUIDATOR);
        (uint256 repaid,) = market.liquidate(ALICE, address(weth), type(uint256).max);
        assertEq(repaid, 16_000e6, "whole debt");
        assertEq(market.debtOf(ALICE), 0, "cleared");
        assertEq(market.badDebt(), 0, "no bad debt");
    }

    function test_liquidate_recordsBadDebt() public {
        openPosition(ALICE, weth, 10e18, 16_000e6);
        wethFeed.updateAnswer(1_000e8); // collateral 10,000 USD < debt 16,000 USD
        fundLiquidator();
        vm.prank(LIQUIDATOR);
        (uint256 repaid, uint256 seized) = market.liquidate(ALICE, address(weth), type(uint256).max);
        assertEq(seized, 10e18, "all collateral");
        uint256 expectedRepaid = uint256(10_000e6) * 10_000 / 10_500;
        assertEq(repaid, expectedRepaid, "repaid = collateral value / (1 + LB)");
        assertEq(market.badDebt(), 16_000e6 - expectedRepaid, "bad debt");
        assertEq(market.debtOf(ALICE), 0, "written off");
        assertEq(market.totalDebt(), 0, "total debt");
        uint256 cash = usd.balanceOf(address(market));
        assertEq(cash + market.totalDebt() + market.badDebt(), market.totalSupplied(), "books balance");
    }
}

/// @notice Unit tests of the price feed with round history.
contract PriceFeedTest is Fixture {
    function test_roundHistory() public {
        PriceFeed feed = new PriceFeed(8, "LINK / USD", address(this));
        int256[] memory answers = new int256[](3);
        uint256[] memory times = new uint256[](3);
        (answers[0], answers[1], answers[2]) = (10e8, 11e8, 12e8);
        (times[0], times[1], times[2]) = (T0 - 7200, T0 - 3600, T0);
        feed.pushRounds(answers, times);
        assertEq(feed.latestRound(), 3, "rounds");
        (uint80 id, int256 answer,, uint256 updatedAt, uint80 answeredIn) = feed.latestRoundData();
        assertEq(id, 3, "latest id");
        assertEq(uint256(answer), 12e8, "latest answer");
        assertEq(updatedAt, T0, "updatedAt");
        assertEq(answeredIn, 3, "answeredInRound");
        (, int256 first,, uint256 firstAt,) = feed.getRoundData(1);
        assertEq(uint256(first), 10e8, "first answer");
        assertEq(firstAt, T0 - 7200, "first time");
        assertEq(feed.version(), 1, "version");
        assertEq(feed.decimals(), 8, "decimals");
    }

    function test_reverts() public {
        PriceFeed feed = new PriceFeed(8, "LINK / USD", address(this));
        vm.expectRevert(abi.encodeWithSelector(PriceFeed.NoRounds.selector));
        feed.latestRoundData();
        vm.expectRevert(abi.encodeWithSelector(PriceFeed.UnknownRound.selector, uint80(1)));
        feed.getRoundData(1);
        vm.expectRevert(abi.encodeWithSelector(PriceFeed.NotUpdater.selector, ALICE));
        vm.prank(ALICE);
        feed.updateAnswer(1);
        vm.expectRevert(abi.encodeWithSelector(PriceFeed.TimestampInFuture.selector, T0 + 1, T0));
        feed.pushRounds(one(1), oneTime(T0 + 1));
        feed.updateAnswer(1);
        vm.expectRevert(abi.encodeWithSelector(PriceFeed.TimestampNotMonotonic.selector, T0 - 1, T0));
        feed.pushRounds(one(1), oneTime(T0 - 1));
        vm.expectRevert(abi.encodeWithSelector(PriceFeed.LengthMismatch.selector));
        feed.pushRounds(one(1), new uint256[](0));
    }

    function one(int256 a) internal pure returns (int256[] memory xs) {
        xs = new int256[](1);
        xs[0] = a;
    }

    function oneTime(uint256 t) internal pure returns (uint256[] memory xs) {
        xs = new uint256[](1);
        xs[0] = t;
    }

    function test_tokenMintOnlyMinter() public {
        vm.expectRevert(abi.encodeWithSelector(TestToken.NotMinter.selector, ALICE));
        vm.prank(ALICE);
        weth.mint(ALICE, 1);
        assertEq(wbtc.decimals(), 8, "decimals");
    }
}
