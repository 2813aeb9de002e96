// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Multicall3
/// @notice Batches many read calls into one `eth_call`, with the standard Multicall3 interface
///         (`aggregate3`, deployed at 0xcA11bde05977b3631167028862bE2a173976CA11 on most chains), written here so
///         that a local chain has it too. Only the read paths the oracle uses are provided; it holds no funds.
contract Multicall3 {
    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    struct Result {
        bool success;
        bytes returnData;
    }

    /// @notice Reverts when a call that does not allow failure fails; carries the call's index and revert data.
    error CallFailed(uint256 index, bytes returnData);

    /// @notice Calls every target in order; a failed call reverts the batch unless it allows failure.
    /// @param calls The calls: target, whether its failure is tolerated, calldata.
    /// @return returnData Per call, whether it succeeded and what it returned (or its revert data).
    function aggregate3(Call3[] calldata calls) external payable returns (Result[] memory returnData) {
        uint256 n = calls.length;
        returnData = new Result[](n);
        for (uint256 i = 0; i < n; ++i) {
            Call3 calldata c = calls[i];
            (bool ok, bytes memory ret) = c.target.call(c.callData);
            if (!ok && !c.allowFailure) revert CallFailed(i, ret);
            returnData[i] = Result(ok, ret);
        }
    }

    /// @notice The current block number, so a batch can say which block it read.
    function getBlockNumber() external view returns (uint256) {
        return block.number;
    }

    /// @notice The current block timestamp.
    function getCurrentBlockTimestamp() external view returns (uint256) {
        return block.timestamp;
    }

    /// @notice The chain id.
    function getChainId() external view returns (uint256) {
        return block.chainid;
    }

    /// @notice The native balance of `addr`.
    function getEthBalance(address addr) external view returns (uint256) {
        return addr.balance;
    }
}
