// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRiskTarget} from "./interfaces/IRiskTarget.sol";
import {RiskParams, ParamBounds, RiskParam} from "./interfaces/RiskTypes.sol";

/// @title RiskParameterGovernor
/// @notice The only risk admin of a lending market. It accepts risk-parameter updates from an automated keeper
///         and enforces, whatever the keeper sends, the bounds the DAO set: a range per parameter, a maximum step
///         per change that depends on the direction, a minimum delay between changes of a parameter, and the
///         linked rules `LTV < LT` and `LT * (1 + LB) < 100 %` (a liquidation must not create bad debt by
///         construction). A guardian can pause it (kill switch) and can only ever make parameters safer.
/// @dev Every rejection is a custom error. `checkUpdate` returns the revert data `submitUpdate` would produce, and
///      `validateChange` is the pure rule set both use, so off-chain mirrors can be checked against the contract.
contract RiskParameterGovernor {
    using RiskParam for RiskParams;

    /// @notice 100 % in basis points.
    uint256 public constant BPS = 10_000;

    /// @notice The market (or the adapter in front of it) whose parameters this governor sets.
    IRiskTarget public immutable target;

    /// @notice The DAO or its timelock: sets bounds and roles, unpauses.
    address public owner;
    /// @notice The automated risk oracle allowed to submit updates.
    address public keeper;
    /// @notice Emergency role: may pause and may only tighten parameters.
    address public guardian;
    /// @notice While true, no parameter can change.
    bool public paused;

    mapping(address asset => ParamBounds[3]) internal _bounds;
    mapping(address asset => bool) public isConfigured;
    mapping(address asset => uint64[3]) internal _lastChangedAt;
    /// @notice Id of the last update applied to an asset; ids strictly increase per asset, starting at 1.
    mapping(address asset => uint256) public lastUpdateId;

    /// @notice Emitted for every applied change of an asset's parameters.
    event ParametersUpdated(
        address indexed asset,
        uint256 indexed updateId,
        RiskParams oldParams,
        RiskParams newParams,
        bytes32 reportHash
    );
    /// @notice Emitted next to `ParametersUpdated` when the change came from the guardian.
    event GuardianTightened(address indexed asset, uint256 indexed updateId, address indexed guardian);
    event BoundsSet(address indexed asset, ParamBounds[3] oldBounds, ParamBounds[3] newBounds);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event KeeperSet(address indexed previousKeeper, address indexed newKeeper);
    event GuardianSet(address indexed previousGuardian, address indexed newGuardian);
    event Paused(address indexed by);
    event Unpaused(address indexed by);

    error NotOwner(address caller);
    error NotKeeper(address caller);
    error NotGuardian(address caller);
    error ZeroAddress();
    error GovernorPaused();
    error GovernorNotPaused();
    error UpdateExpired(uint256 validUntil, uint256 timestamp);
    error AssetNotListed(address asset);
    error AssetNotConfigured(address asset);
    error NoChange(address asset);
    error OutOfRange(uint8 param, uint256 value, uint256 min, uint256 max);
    error IncreaseTooLarge(uint8 param, uint256 fromValue, uint256 toValue, uint256 maxIncrease);
    error DecreaseTooLarge(uint8 param, uint256 fromValue, uint256 toValue, uint256 maxDecrease);
    error TooSoon(uint8 param, uint256 nextAllowedAt);
    error LtvNotBelowThreshold(uint256 ltv, uint256 liquidationThreshold);
    error BonusCreatesBadDebt(uint256 liquidationThreshold, uint256 liquidationBonus);
    error GuardianMayOnlyTighten(uint8 param, uint256 fromValue, uint256 toValue);
    error InvalidBounds(uint8 param);
    error CurrentOutsideBounds(uint8 param, uint256 current);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    /// @param target_ The market or adapter to govern; this contract must be its risk admin.
    /// @param owner_ The DAO or timelock.
    /// @param keeper_ The risk oracle's submitting account.
    /// @param guardian_ The emergency account.
    constructor(IRiskTarget target_, address owner_, address keeper_, address guardian_) {
        if (address(target_) == address(0) || owner_ == address(0)) revert ZeroAddress();
        target = target_;
        owner = owner_;
        keeper = keeper_;
        guardian = guardian_;
        emit OwnershipTransferred(address(0), owner_);
        emit KeeperSet(address(0), keeper_);
        emit GuardianSet(address(0), guardian_);
    }

    // ------------------------------------------------------------------ keeper

    /// @notice Applies new risk parameters to `asset` if every bound allows it.
    /// @dev Reverts with the first rule broken, in the order of `checkUpdate`. Each changed parameter restarts
    ///      its min-delay clock.
    /// @param asset The collateral asset.
    /// @param params The proposed parameters, in basis points.
    /// @param reportHash Hash of the explanation report of this update (the report manifest's sha256).
    /// @param validUntil Timestamp after which the update is stale and must not apply.
    /// @return updateId The id assigned to this update.
    function submitUpdate(address asset, RiskParams calldata params, bytes32 reportHash, uint256 validUntil)
        external
        returns (uint256 updateId)
    {
        if (msg.sender != keeper) revert NotKeeper(msg.sender);
        _revertWith(checkUpdate(asset, params, validUntil));
        return _apply(asset, params, reportHash);
    }

    // ---------------------------------------------------------------- guardian

    /// @notice Emergency de-risking by the guardian: may lower LTV and raise the liquidation bonus, never loosen,
    ///         never touch the liquidation threshold (lowering it liquidates users at once).
    /// @dev All the keeper's rules still hold (range, steps, delays, linked rules); the bounds set how fast a
    ///      de-risking move may be. Blocked while paused: a paused governor changes nothing.
    /// @param asset The collateral asset.
    /// @param params The tightened parameters.
    /// @param reportHash Hash of the guardian's justification.
    /// @return updateId The id assigned to this update.
    function guardianTighten(address asset, RiskParams calldata params, bytes32 reportHash)
        external
        returns (uint256 updateId)
    {
        if (msg.sender != guardian) revert NotGuardian(msg.sender);
        if (paused) revert GovernorPaused();
        if (!isConfigured[asset]) revert AssetNotConfigured(asset);
        RiskParams memory current = target.getRiskParams(asset);
        if (params.ltv > current.ltv) {
            revert GuardianMayOnlyTighten(RiskParam.LTV, current.ltv, params.ltv);
        }
        if (params.liquidationThreshold != current.liquidationThreshold) {
            revert GuardianMayOnlyTighten(
                RiskParam.LIQUIDATION_THRESHOLD, current.liquidationThreshold, params.liquidationThreshold
            );
        }
        if (params.liquidationBonus < current.liquidationBonus) {
            revert GuardianMayOnlyTighten(RiskParam.LIQUIDATION_BONUS, current.liquidationBonus, params.liquidationBonus);
        }
        _revertWith(validateChange(asset, current, params, _bounds[asset], _lastChangedAt[asset], block.timestamp));
        updateId = _apply(asset, params, reportHash);
        emit GuardianTightened(asset, updateId, msg.sender);
    }

    /// @notice Stops every parameter change until the owner unpauses. Callable by the guardian or the owner.
    function pause() external {
        if (msg.sender != guardian && msg.sender != owner) revert NotGuardian(msg.sender);
        if (paused) revert GovernorPaused();
        paused = true;
        emit Paused(msg.sender);
    }

    // ------------------------------------------------------------------- owner

    /// @notice Resumes parameter changes. Only the owner may unpause.
    function unpause() external onlyOwner {
        if (!paused) revert GovernorNotPaused();
        paused = false;
        emit Unpaused(msg.sender);
    }

    /// @notice Sets the bounds of all three parameters of `asset` (indexed LTV, LT, LB).
    /// @dev Requires `min <= max <= 10_000` per parameter and the asset's current parameters inside the new
    ///      ranges, so that "every parameter is inside its bounds" holds at all times.
    /// @param asset A collateral asset listed on the target.
    /// @param newBounds Bounds for LTV, liquidation threshold and liquidation bonus.
    function setBounds(address asset, ParamBounds[3] calldata newBounds) external onlyOwner {
        if (!target.isListedAsset(asset)) revert AssetNotListed(asset);
        RiskParams memory current = target.getRiskParams(asset);
        for (uint8 p = 0; p < RiskParam.COUNT; ++p) {
            ParamBounds calldata b = newBounds[p];
            if (b.min > b.max || b.max > BPS) revert InvalidBounds(p);
            uint256 value = current.get(p);
            if (value < b.min || value > b.max) revert CurrentOutsideBounds(p, value);
        }
        ParamBounds[3] memory oldBounds = _bounds[asset];
        for (uint8 p = 0; p < RiskParam.COUNT; ++p) {
            _bounds[asset][p] = newBounds[p];
        }
        isConfigured[asset] = true;
        emit BoundsSet(asset, oldBounds, newBounds);
    }

    /// @notice Sets the keeper. Zero disables automated updates.
    function setKeeper(address newKeeper) external onlyOwner {
        emit KeeperSet(keeper, newKeeper);
        keeper = newKeeper;
    }

    /// @notice Sets the guardian. Zero leaves only the owner able to pause.
    function setGuardian(address newGuardian) external onlyOwner {
        emit GuardianSet(guardian, newGuardian);
        guardian = newGuardian;
    }

    /// @notice Hands the owner role to `newOwner` (e.g. a timelock).
    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    // ------------------------------------------------------------------- views

    /// @notice The revert data `submitUpdate(asset, params, _, validUntil)` would produce now from the keeper;
    ///         empty when the update would apply.
    /// @dev Order of checks: paused, expiry, configured, then `validateChange`.
    function checkUpdate(address asset, RiskParams calldata params, uint256 validUntil)
        public
        view
        returns (bytes memory)
    {
        if (paused) return abi.encodeWithSelector(GovernorPaused.selector);
        if (block.timestamp > validUntil) {
            return abi.encodeWithSelector(UpdateExpired.selector, validUntil, block.timestamp);
        }
        if (!isConfigured[asset]) return abi.encodeWithSelector(AssetNotConfigured.selector, asset);
        return validateChange(
            asset, target.getRiskParams(asset), params, _bounds[asset], _lastChangedAt[asset], block.timestamp
        );
    }

    /// @notice The rule set of an update, as a pure function of its inputs: the revert data of the first rule
    ///         broken, or empty bytes when the change is allowed.
    /// @dev Order: no-op; then per parameter (LTV, LT, LB) range, step of its direction, min delay; then the
    ///      linked rules. A parameter never changed (`lastChangedAt == 0`) has no delay.
    /// @param asset The asset (only named in errors).
    /// @param current The parameters now.
    /// @param proposed The proposed parameters.
    /// @param bounds Bounds of LTV, LT and LB.
    /// @param lastChangedAt Timestamp of the last change of each parameter, 0 if never.
    /// @param timestamp The time at which the change would apply.
    function validateChange(
        address asset,
        RiskParams memory current,
        RiskParams memory proposed,
        ParamBounds[3] memory bounds,
        uint64[3] memory lastChangedAt,
        uint256 timestamp
    ) public pure returns (bytes memory) {
        if (current.equals(proposed)) return abi.encodeWithSelector(NoChange.selector, asset);
        for (uint8 p = 0; p < RiskParam.COUNT; ++p) {
            bytes memory err = _validateParam(p, current.get(p), proposed.get(p), bounds[p], lastChangedAt[p], timestamp);
            if (err.length != 0) return err;
        }
        if (proposed.ltv >= proposed.liquidationThreshold) {
            return abi.encodeWithSelector(LtvNotBelowThreshold.selector, proposed.ltv, proposed.liquidationThreshold);
        }
        if (uint256(proposed.liquidationThreshold) * (BPS + proposed.liquidationBonus) >= BPS * BPS) {
            return abi.encodeWithSelector(
                BonusCreatesBadDebt.selector, proposed.liquidationThreshold, proposed.liquidationBonus
            );
        }
        return "";
    }

    /// @notice Bounds of `asset`'s LTV, liquidation threshold and liquidation bonus.
    function getBounds(address asset) external view returns (ParamBounds[3] memory) {
        return _bounds[asset];
    }

    /// @notice Timestamp of the last change of each parameter of `asset` (0 if never changed here).
    function getLastChangedAt(address asset) external view returns (uint64[3] memory) {
        return _lastChangedAt[asset];
    }

    /// @notice Earliest timestamp at which each parameter of `asset` may change again.
    function nextAllowedAt(address asset) external view returns (uint256[3] memory next) {
        for (uint8 p = 0; p < RiskParam.COUNT; ++p) {
            uint64 last = _lastChangedAt[asset][p];
            next[p] = last == 0 ? 0 : uint256(last) + _bounds[asset][p].minDelay;
        }
    }

    // ---------------------------------------------------------------- internal

    function _validateParam(
        uint8 p,
        uint256 from,
        uint256 to,
        ParamBounds memory b,
        uint64 lastChanged,
        uint256 timestamp
    ) internal pure returns (bytes memory) {
        if (to < b.min || to > b.max) return abi.encodeWithSelector(OutOfRange.selector, p, to, b.min, b.max);
        if (to == from) return "";
        if (to > from && to - from > b.maxIncreaseBps) {
            return abi.encodeWithSelector(IncreaseTooLarge.selector, p, from, to, b.maxIncreaseBps);
        }
        if (to < from && from - to > b.maxDecreaseBps) {
            return abi.encodeWithSelector(DecreaseTooLarge.selector, p, from, to, b.maxDecreaseBps);
        }
        if (lastChanged != 0 && timestamp < uint256(lastChanged) + b.minDelay) {
            return abi.encodeWithSelector(TooSoon.selector, p, uint256(lastChanged) + b.minDelay);
        }
        return "";
    }

    function _apply(address asset, RiskParams calldata params, bytes32 reportHash) internal returns (uint256 updateId) {
        RiskParams memory old = target.getRiskParams(asset);
        RiskParams memory next = params;
        for (uint8 p = 0; p < RiskParam.COUNT; ++p) {
            if (old.get(p) != next.get(p)) _lastChangedAt[asset][p] = uint64(block.timestamp);
        }
        updateId = ++lastUpdateId[asset];
        target.setRiskParams(asset, params);
        emit ParametersUpdated(asset, updateId, old, params, reportHash);
    }

    function _revertWith(bytes memory err) internal pure {
        if (err.length != 0) {
            assembly ("memory-safe") {
                revert(add(err, 32), mload(err))
            }
        }
    }
}
