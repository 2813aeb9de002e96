// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title PriceFeed
/// @notice A Chainlink-style feed that keeps its whole round history, so that a reader can pull recent price
///         history from chain with `getRoundData`. Rounds are pushed by the feed's updater (in the demo and tests,
///         the seeding script replays real price history into it).
contract PriceFeed is AggregatorV3Interface {
    struct Round {
        int256 answer;
        uint64 updatedAt;
    }

    uint8 public immutable override decimals;
    string public override description;
    uint256 public constant override version = 1;
    address public updater;

    Round[] internal _rounds; // round id = index + 1

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    error NotUpdater(address caller);
    error NoRounds();
    error UnknownRound(uint80 roundId);
    error TimestampNotMonotonic(uint256 updatedAt, uint256 previous);
    error TimestampInFuture(uint256 updatedAt, uint256 nowTs);
    error LengthMismatch();

    /// @param decimals_ Decimals of the answers (8 for USD pairs).
    /// @param description_ e.g. "ETH / USD".
    /// @param updater_ The account allowed to push rounds.
    constructor(uint8 decimals_, string memory description_, address updater_) {
        decimals = decimals_;
        description = description_;
        updater = updater_;
    }

    /// @notice Pushes a new round with the current block time.
    function updateAnswer(int256 answer) external {
        _push(answer, block.timestamp);
    }

    /// @notice Pushes rounds with explicit, non-decreasing timestamps not in the future (history replay).
    function pushRounds(int256[] calldata answers, uint256[] calldata updatedAts) external {
        if (answers.length != updatedAts.length) revert LengthMismatch();
        for (uint256 i = 0; i < answers.length; ++i) {
            _push(answers[i], updatedAts[i]);
        }
    }

    /// @notice Number of rounds pushed so far (the latest round id).
    function latestRound() external view returns (uint256) {
        return _rounds.length;
    }

    /// @inheritdoc AggregatorV3Interface
    function getRoundData(uint80 roundId)
        external
        view
        override
        returns (uint80, int256, uint256, uint256, uint80)
    {
        if (roundId == 0 || roundId > _rounds.length) revert UnknownRound(roundId);
        Round storage r = _rounds[roundId - 1];
        return (roundId, r.answer, r.updatedAt, r.updatedAt, roundId);
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData() external view override returns (uint80, int256, uint256, uint256, uint80) {
        uint256 n = _rounds.length;
        if (n == 0) revert NoRounds();
        Round storage r = _rounds[n - 1];
        return (uint80(n), r.answer, r.updatedAt, r.updatedAt, uint80(n));
    }

    function _push(int256 answer, uint256 updatedAt) internal {
        if (msg.sender != updater) revert NotUpdater(msg.sender);
        if (updatedAt > block.timestamp) revert TimestampInFuture(updatedAt, block.timestamp);
        uint256 n = _rounds.length;
        if (n != 0 && updatedAt < _rounds[n - 1].updatedAt) {
            revert TimestampNotMonotonic(updatedAt, _rounds[n - 1].updatedAt);
        }
        _rounds.push(Round(answer, uint64(updatedAt)));
        emit AnswerUpdated(answer, n + 1, updatedAt);
    }
}
