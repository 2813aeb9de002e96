// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title PriceFeedSource
/// @notice Chainlink's legacy `AggregatorInterface` view (`latestAnswer`, `latestTimestamp`, `latestRound`) over one
///         of our round-keeping `PriceFeed`s: Aave v3's `AaveOracle` reads a source's `latestAnswer()`, which
///         `PriceFeed` (an `AggregatorV3Interface`) does not have. It holds no price of its own: every value is the
///         feed's latest round, so the Aave oracle and the oracle's snapshot see the same price.
contract PriceFeedSource {
    /// @notice The feed this source reads.
    AggregatorV3Interface public immutable feed;

    error ZeroAddress();

    constructor(AggregatorV3Interface feed_) {
        if (address(feed_) == address(0)) revert ZeroAddress();
        feed = feed_;
    }

    /// @notice The feed's decimals (8 for USD pairs, as Aave's base currency unit).
    function decimals() external view returns (uint8) {
        return feed.decimals();
    }

    /// @notice The latest round's answer (reverts as the feed does when it has no round).
    function latestAnswer() external view returns (int256 answer) {
        (, answer,,,) = feed.latestRoundData();
    }

    /// @notice When the latest round was updated.
    function latestTimestamp() external view returns (uint256 updatedAt) {
        (,,, updatedAt,) = feed.latestRoundData();
    }

    /// @notice The latest round id.
    function latestRound() external view returns (uint256) {
        (uint80 roundId,,,,) = feed.latestRoundData();
        return roundId;
    }
}
