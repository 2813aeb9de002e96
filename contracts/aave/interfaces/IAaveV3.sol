// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The few Aave v3 calls the risk target makes, declared as interfaces only (Aave itself is deployed from
///         the official `@aave/core-v3` artifacts, never copied). Signatures as in `@aave/core-v3` 1.19.3.

/// @notice Aave's `DataTypes.ReserveConfigurationMap`: one word, a bitmap (see `AaveV3ReserveConfig`).
struct AaveReserveConfigurationMap {
    uint256 data;
}

/// @notice `IPoolAddressesProvider`: where the market's proxies and its ACL manager are registered.
interface IAaveV3AddressesProvider {
    function getPool() external view returns (address);
    function getPoolConfigurator() external view returns (address);
    function getACLManager() external view returns (address);
    function getPriceOracle() external view returns (address);
}

/// @notice `IPool`: the reserve configuration bitmap, the only place the target reads parameters from.
interface IAaveV3Pool {
    function getConfiguration(address asset) external view returns (AaveReserveConfigurationMap memory);
}

/// @notice `IPoolConfigurator`: the risk admin's entry point. `liquidationBonus` is stored as 10000 + LB.
interface IAaveV3PoolConfigurator {
    function configureReserveAsCollateral(
        address asset,
        uint256 ltv,
        uint256 liquidationThreshold,
        uint256 liquidationBonus
    ) external;
}

/// @notice `IACLManager`: who may call the configurator's risk functions (risk or pool admins).
interface IAaveV3ACLManager {
    function isRiskAdmin(address admin) external view returns (bool);
    function isPoolAdmin(address admin) external view returns (bool);
}
