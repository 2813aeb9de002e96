// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRiskTarget} from "./interfaces/IRiskTarget.sol";
import {IRiskParameterGovernor} from "./interfaces/IRiskParameterGovernor.sol";
import {RiskParams, ParamBounds, RiskParam} from "./interfaces/RiskTypes.sol";

/// @title RiskParameterGovernor
/// @notice The only risk admin of a lending market. It accepts risk-parameter updates from an automated keeper
///         and enforces, whatever the keeper sends, the bounds the DAO set: a range per parameter, a maximum step
///         per change that depends on the direction, a minimum delay between changes of a parameter, and the
///         linked rules `LTV < LT` and `LT * (1 + LB) < 100 %` (a liquidation must not create bad debt by
///         construction). A guardian can pause it (kill switch) and can only ever make parameters safer.
/// @dev Every rejection is a custom error. `checkUpdate` returns the revert data `submitUpdate` would produce, and
///      `validateChange` is the pure rule set both use, so off-chain mirrors can be checked against the contract.
///      Events, errors and the API are declared and documented in `IRiskParameterGovernor`.
contract RiskParameterGovernor is IRiskParameterGovernor {
    using RiskParam for RiskParams;

    /// @inheritdoc IRiskParameterGovernor
    uint256 public constant BPS = 10_000;

    /// @inheritdoc IRiskParameterGovernor
    IRiskTarget public immutable target;

    /// @inheritdoc IRiskParameterGovernor
    address public owner;
    /// @inheritdoc IRiskParameterGovernor
    address public keeper;
    /// @inheritdoc IRiskParameterGovernor
    address public guardian;
    /// @inheritdoc IRiskParameterGovernor
    bool public paused;

    mapping(address asset => ParamBounds[3]) internal _bounds;
    /// @inheritdoc IRiskParameterGovernor
    mapping(address asset => bool) public isConfigured;
    mapping(address asset => uint64[3]) internal _lastChangedAt;
    /// @inheritdoc IRiskParameterGovernor
    mapping(address asset => uint256) public lastUpdateId;

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

    // `checkUpdate` is the single source of the keeper's rules: this function adds only the role check.
    /// @inheritdoc IRiskParameterGovernor
    function submitUpdate(address asset, RiskParams calldata params, bytes32 reportHash, uint256 validUntil)
        external
        returns (uint256 updateId)
    {
        if (msg.sender != keeper) revert NotKeeper(msg.sender);
        _revertWith(checkUpdate(asset, params, validUntil));
        return _apply(asset, params, reportHash);
    }

    // ---------------------------------------------------------------- guardian

    /// @inheritdoc IRiskParameterGovernor
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

    /// @inheritdoc IRiskParameterGovernor
    /// @dev The role check comes first, so a stranger learns who may pause even while the governor is paused.
    function pause() external {
        if (msg.sender != guardian && msg.sender != owner) revert NotGuardianOrOwner(msg.sender, guardian, owner);
        if (paused) revert GovernorPaused();
        paused = true;
        emit Paused(msg.sender);
    }

    // ------------------------------------------------------------------- owner

    /// @inheritdoc IRiskParameterGovernor
    function unpause() external onlyOwner {
        if (!paused) revert GovernorNotPaused();
        paused = false;
        emit Unpaused(msg.sender);
    }

    /// @inheritdoc IRiskParameterGovernor
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

    /// @inheritdoc IRiskParameterGovernor
    function setKeeper(address newKeeper) external onlyOwner {
        emit KeeperSet(keeper, newKeeper);
        keeper = newKeeper;
    }

    /// @inheritdoc IRiskParameterGovernor
    function setGuardian(address newGuardian) external onlyOwner {
        emit GuardianSet(guardian, newGuardian);
        guardian = newGuardian;
    }

    /// @inheritdoc IRiskParameterGovernor
    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    // ------------------------------------------------------------------- views

    // public, not external: `submitUpdate` calls it and reverts with what it returns.
    /// @inheritdoc IRiskParameterGovernor
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

    // public with memory arguments: `checkUpdate` and `guardianTighten` call it on values loaded from storage.
    /// @inheritdoc IRiskParameterGovernor
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

    /// @inheritdoc IRiskParameterGovernor
    function getBounds(address asset) external view returns (ParamBounds[3] memory) {
        return _bounds[asset];
    }

    /// @inheritdoc IRiskParameterGovernor
    function getLastChangedAt(address asset) external view returns (uint64[3] memory) {
        return _lastChangedAt[asset];
    }

    /// @inheritdoc IRiskParameterGovernor
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
