// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RiskParams} from "./RiskTypes.sol";

/// @title IRiskTarget
/// @notice What the governor needs from a market: read and write the risk parameters of a collateral asset.
/// @dev Our reference market implements it directly; an adapter for another protocol family (e.g. an Aave v3
///      PoolConfigurator behind an adapter holding the RISK_ADMIN role) implements the same three functions, so
///      the same governor and keeper serve both.
interface IRiskTarget {
    /// @notice Whether `asset` is a listed collateral asset of the market.
    function isListedAsset(address asset) external view returns (bool);

    /// @notice Current risk parameters of `asset`, in basis points.
    function getRiskParams(address asset) external view returns (RiskParams memory);

    /// @notice Sets the risk parameters of `asset`. Callable only by the market's risk admin (the governor).
    function setRiskParams(address asset, RiskParams calldata params) external;
}
