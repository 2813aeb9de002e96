// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title AaveV3ReserveConfig
/// @notice Reads Aave v3's reserve configuration bitmap and states Aave's own rules for
///         `PoolConfigurator.configureReserveAsCollateral`, so that the risk target can refuse what Aave would
///         refuse before calling it, with a named error instead of Aave's numeric string.
/// @dev Bit layout and rules as in `@aave/core-v3` 1.19.3 (`ReserveConfiguration.sol`, `PoolConfigurator.sol`,
///      `PercentageMath.sol`): bits 0-15 LTV, 16-31 liquidation threshold, 32-47 liquidation bonus (10000 + LB),
///      56 active, 57 frozen, 60 paused; every risk field is 16 bits wide.
library AaveV3ReserveConfig {
    uint256 internal constant PERCENTAGE_FACTOR = 1e4;
    uint256 internal constant HALF_PERCENTAGE_FACTOR = 0.5e4;
    /// @dev `MAX_VALID_LTV`, `MAX_VALID_LIQUIDATION_THRESHOLD`, `MAX_VALID_LIQUIDATION_BONUS`: 16-bit fields.
    uint256 internal constant MAX_FIELD = type(uint16).max;

    uint256 internal constant LIQUIDATION_THRESHOLD_START_BIT_POSITION = 16;
    uint256 internal constant LIQUIDATION_BONUS_START_BIT_POSITION = 32;
    uint256 internal constant IS_ACTIVE_BIT = 56;
    uint256 internal constant IS_FROZEN_BIT = 57;
    uint256 internal constant IS_PAUSED_BIT = 60;

    function ltv(uint256 data) internal pure returns (uint256) {
        return data & MAX_FIELD;
    }

    function liquidationThreshold(uint256 data) internal pure returns (uint256) {
        return (data >> LIQUIDATION_THRESHOLD_START_BIT_POSITION) & MAX_FIELD;
    }

    /// @notice The stored bonus, 10000 + LB (e.g. 10500 for a 5 % liquidation bonus).
    function liquidationBonus(uint256 data) internal pure returns (uint256) {
        return (data >> LIQUIDATION_BONUS_START_BIT_POSITION) & MAX_FIELD;
    }

    function isActive(uint256 data) internal pure returns (bool) {
        return (data >> IS_ACTIVE_BIT) & 1 == 1;
    }

    function isFrozen(uint256 data) internal pure returns (bool) {
        return (data >> IS_FROZEN_BIT) & 1 == 1;
    }

    function isPaused(uint256 data) internal pure returns (bool) {
        return (data >> IS_PAUSED_BIT) & 1 == 1;
    }

    /// @notice Aave's `PercentageMath.percentMul`: `value * percentage / 10000`, rounded half up.
    function percentMul(uint256 value, uint256 percentage) internal pure returns (uint256) {
        return (value * percentage + HALF_PERCENTAGE_FACTOR) / PERCENTAGE_FACTOR;
    }
}
