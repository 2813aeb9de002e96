// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRiskTarget} from "../interfaces/IRiskTarget.sol";
import {RiskParams, RiskParam} from "../interfaces/RiskTypes.sol";
import {AaveV3ReserveConfig as Config} from "./AaveV3ReserveConfig.sol";
import {
    IAaveV3AddressesProvider,
    IAaveV3Pool,
    IAaveV3PoolConfigurator,
    IAaveV3ACLManager
} from "./interfaces/IAaveV3.sol";

/// @title AaveV3RiskTarget
/// @notice Puts a real Aave v3 market behind the `RiskParameterGovernor`: the governor calls this target, the
///         target holds Aave's `RISK_ADMIN` role and calls `PoolConfigurator.configureReserveAsCollateral`.
///         The governor's bounds and linked rules apply first; this target then applies Aave's own rules and its
///         own refusals (a reserve that is inactive, not collateral, paused or frozen; a target without the role)
///         and reverts with a named error before Aave would revert with a numeric string.
/// @dev Parameters are read back from Aave's reserve configuration bitmap (`Pool.getConfiguration`) every time,
///      never kept here: whatever else changes them (the DAO's pool admin, a steward) is what the governor sees.
///      Aave stores the liquidation bonus as 10000 + LB; `RiskParams.liquidationBonus` is LB, as everywhere in
///      the oracle. `checkRiskParams` returns the revert data `setRiskParams` would produce, so that the keeper
///      can check an update before sending anything.
contract AaveV3RiskTarget is IRiskTarget {
    uint256 public constant BPS = 10_000;

    /// @notice The Aave market's `PoolAddressesProvider`.
    IAaveV3AddressesProvider public immutable addressesProvider;
    /// @notice The market's `Pool` proxy (read from the provider at construction; proxies keep their address).
    IAaveV3Pool public immutable pool;
    /// @notice The market's `PoolConfigurator` proxy.
    IAaveV3PoolConfigurator public immutable configurator;
    /// @notice The account that deployed the target and may bind it to its governor, once.
    address public immutable deployer;
    /// @notice The only caller of `setRiskParams`.
    address public governor;

    event GovernorSet(address indexed governor);
    event AaveRiskParamsSet(address indexed asset, uint256 ltv, uint256 liquidationThreshold, uint256 liquidationBonus);

    /// @notice The caller is not the governor.
    error NotGovernor(address caller, address governor);
    /// @notice Only the deployer binds the governor.
    error NotDeployer(address caller);
    /// @notice The governor is bound once; a new governor needs a new target (and the DAO moving RISK_ADMIN).
    error GovernorAlreadySet(address governor);
    error ZeroAddress();
    /// @notice The asset is not an active reserve of the pool (never initialised, or deactivated).
    error ReserveNotActive(address asset);
    /// @notice The reserve's liquidation threshold is 0: it is not collateral, the oracle has nothing to govern.
    error ReserveNotCollateral(address asset);
    /// @notice The reserve is paused (Aave's emergency stop): no automated change while it is.
    error ReservePaused(address asset);
    /// @notice The reserve is frozen: the DAO is winding it down, an automated LTV change would fight it (and Aave
    ///         v3.1+ parks a frozen reserve's LTV as pending, so the bitmap would not show what was sent).
    error ReserveFrozen(address asset);
    /// @notice This target holds neither RISK_ADMIN nor POOL_ADMIN in the market's ACL manager.
    error TargetNotRiskAdmin(address target, address aclManager);
    /// @notice Aave's rule `ltv <= liquidationThreshold` (`INVALID_RESERVE_PARAMS`).
    error AaveLtvAboveThreshold(uint256 ltv, uint256 liquidationThreshold);
    /// @notice A liquidation threshold of 0 disables the reserve as collateral: a DAO decision, never automated.
    error AaveCollateralDisableNotAllowed(address asset);
    /// @notice Aave's rule: the stored bonus must exceed 100 % (LB > 0) (`INVALID_RESERVE_PARAMS`).
    /// @param liquidationBonus The stored bonus, 10000 + LB.
    error AaveBonusNotAboveOne(uint256 liquidationBonus);
    /// @notice Aave's rule `percentMul(lt, 10000 + LB) <= 100 %` (`INVALID_RESERVE_PARAMS`).
    /// @param liquidationBonus The stored bonus, 10000 + LB.
    error AaveBonusCreatesBadDebt(uint256 liquidationThreshold, uint256 liquidationBonus);
    /// @notice A value does not fit Aave's 16-bit field (`INVALID_LTV`, `INVALID_LIQ_THRESHOLD`, `INVALID_LIQ_BONUS`).
    /// @param param `RiskParam` index; for the bonus, `value` is the stored 10000 + LB.
    error AaveFieldTooWide(uint8 param, uint256 value);
    /// @notice Aave did not store what was sent (a fork with other semantics): nothing is half-applied.
    error AaveDidNotApply(address asset, uint256 ltv, uint256 liquidationThreshold, uint256 liquidationBonus);

    /// @param provider_ The Aave market's `PoolAddressesProvider` (its pool and configurator must be set).
    constructor(IAaveV3AddressesProvider provider_) {
        if (address(provider_) == address(0)) revert ZeroAddress();
        address pool_ = provider_.getPool();
        address configurator_ = provider_.getPoolConfigurator();
        if (pool_ == address(0) || configurator_ == address(0)) revert ZeroAddress();
        addressesProvider = provider_;
        pool = IAaveV3Pool(pool_);
        configurator = IAaveV3PoolConfigurator(configurator_);
        deployer = msg.sender;
    }

    /// @notice Binds the governor, once (the governor is deployed with this target's address).
    function setGovernor(address governor_) external {
        if (msg.sender != deployer) revert NotDeployer(msg.sender);
        if (governor != address(0)) revert GovernorAlreadySet(governor);
        if (governor_ == address(0)) revert ZeroAddress();
        governor = governor_;
        emit GovernorSet(governor_);
    }

    // ------------------------------------------------------------------ IRiskTarget

    /// @inheritdoc IRiskTarget
    /// @dev An active reserve with a non-zero liquidation threshold (a paused or frozen one is listed: reading it
    ///      works, changing it is refused with a named error).
    function isListedAsset(address asset) external view returns (bool) {
        uint256 data = _configuration(asset);
        return Config.isActive(data) && Config.liquidationThreshold(data) != 0;
    }

    /// @inheritdoc IRiskTarget
    /// @dev From Aave's bitmap: LTV, LT, and the stored bonus minus 10000.
    function getRiskParams(address asset) public view returns (RiskParams memory) {
        uint256 data = _configuration(asset);
        if (!Config.isActive(data)) revert ReserveNotActive(asset);
        uint256 lt = Config.liquidationThreshold(data);
        if (lt == 0) revert ReserveNotCollateral(asset);
        uint256 bonus = Config.liquidationBonus(data);
        // Aave keeps bonus > 10000 whenever lt != 0; a bonus of 10000 + LB fits uint16 since the field is 16 bits
        uint256 lb = bonus > BPS ? bonus - BPS : 0;
        return RiskParams(uint16(Config.ltv(data)), uint16(lt), uint16(lb));
    }

    /// @inheritdoc IRiskTarget
    function setRiskParams(address asset, RiskParams calldata params) external {
        if (msg.sender != governor) revert NotGovernor(msg.sender, governor);
        _revertWith(checkRiskParams(asset, params));
        uint256 bonus = BPS + params.liquidationBonus;
        configurator.configureReserveAsCollateral(asset, params.ltv, params.liquidationThreshold, bonus);
        uint256 data = _configuration(asset);
        if (
            Config.ltv(data) != params.ltv || Config.liquidationThreshold(data) != params.liquidationThreshold
                || Config.liquidationBonus(data) != bonus
        ) {
            revert AaveDidNotApply(asset, Config.ltv(data), Config.liquidationThreshold(data), Config.liquidationBonus(data));
        }
        emit AaveRiskParamsSet(asset, params.ltv, params.liquidationThreshold, bonus);
    }

    // ------------------------------------------------------------------- views

    /// @notice The revert data `setRiskParams(asset, params)` would produce (empty when Aave would accept it):
    ///         reserve state, this target's role, then Aave's parameter rules.
    function checkRiskParams(address asset, RiskParams memory params) public view returns (bytes memory) {
        uint256 data = _configuration(asset);
        if (!Config.isActive(data)) return abi.encodeWithSelector(ReserveNotActive.selector, asset);
        if (Config.liquidationThreshold(data) == 0) {
            return abi.encodeWithSelector(ReserveNotCollateral.selector, asset);
        }
        if (Config.isPaused(data)) return abi.encodeWithSelector(ReservePaused.selector, asset);
        if (Config.isFrozen(data)) return abi.encodeWithSelector(ReserveFrozen.selector, asset);
        if (!hasRiskAdminRole()) {
            return abi.encodeWithSelector(TargetNotRiskAdmin.selector, address(this), addressesProvider.getACLManager());
        }
        if (params.liquidationThreshold == 0) {
            return abi.encodeWithSelector(AaveCollateralDisableNotAllowed.selector, asset);
        }
        return validateAaveParams(params);
    }

    /// @notice Aave's own rules for `configureReserveAsCollateral` with `lt != 0`, in Aave's order, as revert data
    ///         (empty when they hold). `ltv` and `lt` are uint16 and always fit their fields.
    function validateAaveParams(RiskParams memory params) public pure returns (bytes memory) {
        uint256 bonus = BPS + params.liquidationBonus;
        if (params.ltv > params.liquidationThreshold) {
            return abi.encodeWithSelector(AaveLtvAboveThreshold.selector, params.ltv, params.liquidationThreshold);
        }
        if (bonus <= Config.PERCENTAGE_FACTOR) return abi.encodeWithSelector(AaveBonusNotAboveOne.selector, bonus);
        if (Config.percentMul(params.liquidationThreshold, bonus) > Config.PERCENTAGE_FACTOR) {
            return abi.encodeWithSelector(AaveBonusCreatesBadDebt.selector, params.liquidationThreshold, bonus);
        }
        if (bonus > Config.MAX_FIELD) {
            return abi.encodeWithSelector(AaveFieldTooWide.selector, RiskParam.LIQUIDATION_BONUS, bonus);
        }
        return "";
    }

    /// @notice Whether this target may call the configurator's risk functions (RISK_ADMIN or POOL_ADMIN in the ACL
    ///         manager the provider names now).
    function hasRiskAdminRole() public view returns (bool) {
        IAaveV3ACLManager acl = IAaveV3ACLManager(addressesProvider.getACLManager());
        return acl.isRiskAdmin(address(this)) || acl.isPoolAdmin(address(this));
    }

    /// @notice Aave's raw reserve configuration bitmap of `asset`.
    function reserveConfiguration(address asset) external view returns (uint256) {
        return _configuration(asset);
    }

    // ---------------------------------------------------------------- internal

    function _configuration(address asset) internal view returns (uint256) {
        return pool.getConfiguration(asset).data;
    }

    function _revertWith(bytes memory err) internal pure {
        if (err.length != 0) {
            assembly ("memory-safe") {
                revert(add(err, 32), mload(err))
            }
        }
    }
}
