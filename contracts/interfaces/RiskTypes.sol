// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Risk parameters of one collateral asset, all in basis points (10_000 = 100 %).
/// @dev `ltv` is the collateral ratio (max borrow per unit of collateral value), `liquidationThreshold` the
///      debt/collateral value at which a position becomes liquidatable, `liquidationBonus` the liquidation
///      margin: the bonus over repaid debt a liquidator receives in collateral.
struct RiskParams {
    uint16 ltv;
    uint16 liquidationThreshold;
    uint16 liquidationBonus;
}

/// @notice Bounds of one risk parameter. Bounds are data so that direction matters: de-risking moves may be
///         fast, loosening moves slow.
/// @dev `maxIncreaseBps` / `maxDecreaseBps` are absolute steps in basis points of the parameter per change;
///      `minDelay` is the minimum time in seconds between two changes of this parameter.
struct ParamBounds {
    uint16 min;
    uint16 max;
    uint16 maxIncreaseBps;
    uint16 maxDecreaseBps;
    uint32 minDelay;
}

/// @notice Index of each parameter in `ParamBounds[3]`, `uint64[3]` and in error arguments.
library RiskParam {
    uint8 internal constant LTV = 0;
    uint8 internal constant LIQUIDATION_THRESHOLD = 1;
    uint8 internal constant LIQUIDATION_BONUS = 2;
    uint8 internal constant COUNT = 3;

    /// @notice The parameter at index `p` of `params`.
    function get(RiskParams memory params, uint8 p) internal pure returns (uint256) {
        if (p == LTV) return params.ltv;
        if (p == LIQUIDATION_THRESHOLD) return params.liquidationThreshold;
        return params.liquidationBonus;
    }

    /// @notice True when every parameter of `a` equals the one of `b`.
    function equals(RiskParams memory a, RiskParams memory b) internal pure returns (bool) {
        return a.ltv == b.ltv && a.liquidationThreshold == b.liquidationThreshold
            && a.liquidationBonus == b.liquidationBonus;
    }
}
