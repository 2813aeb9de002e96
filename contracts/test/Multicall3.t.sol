// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {Multicall3} from "../Multicall3.sol";
import {LendingMarket} from "../market/LendingMarket.sol";

/// @notice Unit tests of Multicall3: batching, per-call failure handling, the block helpers.
contract Multicall3Test is Fixture {
    Multicall3 internal mc;

    function setUp() public override {
        super.setUp();
        mc = new Multicall3();
    }

    function test_aggregate3_returnsEveryResult() public {
        Multicall3.Call3[] memory calls = new Multicall3.Call3[](2);
        calls[0] = Multicall3.Call3(address(market), false, abi.encodeCall(LendingMarket.borrowersCount, ()));
        calls[1] = Multicall3.Call3(address(market), true, abi.encodeCall(LendingMarket.borrowerAt, (7)));
        Multicall3.Result[] memory res = mc.aggregate3(calls);
        assertTrue(res[0].success, "first ok");
        assertEq(abi.decode(res[0].returnData, (uint256)), 0, "no borrowers");
        assertTrue(!res[1].success, "out of range tolerated");
    }

    function test_aggregate3_revertsOnDisallowedFailure() public {
        Multicall3.Call3[] memory calls = new Multicall3.Call3[](1);
        calls[0] = Multicall3.Call3(address(market), false, abi.encodeCall(LendingMarket.borrowerAt, (7)));
        // Panic(0x32): array index out of bounds
        bytes memory panic = abi.encodeWithSignature("Panic(uint256)", 0x32);
        vm.expectRevert(abi.encodeWithSelector(Multicall3.CallFailed.selector, 0, panic));
        mc.aggregate3(calls);
    }

    function test_blockHelpers() public view {
        assertEq(mc.getBlockNumber(), block.number, "block");
        assertEq(mc.getCurrentBlockTimestamp(), block.timestamp, "time");
        assertEq(mc.getChainId(), block.chainid, "chain");
        assertEq(mc.getEthBalance(address(mc)), 0, "balance");
    }
}
