// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IRiskTarget} from "./IRiskTarget.sol";
import {RiskParams, ParamBounds} from "./RiskTypes.sol";

/// @title IRiskParameterGovernor
/// @notice The API of the risk governor of a lending market: the keeper submits risk-parameter updates, the
///         governor applies them only inside the bounds the owner (the DAO or its timelock) set, the guardian may
///         pause and may only make parameters safer. Parameters are in basis points (10_000 = 100 %), indexed
///         LTV = 0, liquidation threshold = 1, liquidation bonus = 2 wherever an index appears (`ParamBounds[3]`,
///         `uint64[3]`, the `param` argument of errors).
/// @dev Every rejection is a custom error with its arguments; off-chain code decodes reverts by error name from
///      the exported ABI, so names, argument lists and argument names are part of this interface.
interface IRiskParameterGovernor {
    // ------------------------------------------------------------------ events

    /// @notice Emitted for every applied change of an asset's parameters, by the keeper or by the guardian.
    /// @param asset The collateral asset.
    /// @param updateId The id assigned to the update; strictly increasing per asset, starting at 1.
    /// @param oldParams The parameters before the change.
    /// @param newParams The parameters after the change.
    /// @param reportHash Hash of the explanation report of the update (for the guardian: its justification).
    event ParametersUpdated(
        address indexed asset,
        uint256 indexed updateId,
        RiskParams oldParams,
        RiskParams newParams,
        bytes32 reportHash
    );

    /// @notice Emitted next to `ParametersUpdated` when the change came from the guardian.
    /// @param asset The collateral asset.
    /// @param updateId The id of the update, the same as in the `ParametersUpdated` event next to it.
    /// @param guardian The guardian that made the change.
    event GuardianTightened(address indexed asset, uint256 indexed updateId, address indexed guardian);

    /// @notice Emitted when the owner sets the bounds of an asset.
    /// @param asset The collateral asset.
    /// @param oldBounds The previous bounds of LTV, liquidation threshold and liquidation bonus (all zero the first
    ///        time).
    /// @param newBounds The new bounds, in the same order.
    event BoundsSet(address indexed asset, ParamBounds[3] oldBounds, ParamBounds[3] newBounds);

    /// @notice Emitted when the owner role changes hands (also at deployment, from the zero address).
    /// @param previousOwner The former owner.
    /// @param newOwner The new owner.
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    /// @notice Emitted when the keeper is set (also at deployment, from the zero address).
    /// @param previousKeeper The former keeper.
    /// @param newKeeper The new keeper; zero disables automated updates.
    event KeeperSet(address indexed previousKeeper, address indexed newKeeper);

    /// @notice Emitted when the guardian is set (also at deployment, from the zero address).
    /// @param previousGuardian The former guardian.
    /// @param newGuardian The new guardian; zero leaves only the owner able to pause.
    event GuardianSet(address indexed previousGuardian, address indexed newGuardian);

    /// @notice Emitted when the governor is paused.
    /// @param by The account that paused it (the guardian or the owner).
    event Paused(address indexed by);

    /// @notice Emitted when the owner unpauses the governor.
    /// @param by The owner.
    event Unpaused(address indexed by);

    // ------------------------------------------------------------------ errors

    /// @notice The caller is not the owner; only the owner may call this function.
    /// @param caller The account that called.
    error NotOwner(address caller);

    /// @notice The caller of `submitUpdate` is not the keeper.
    /// @param caller The account that called.
    error NotKeeper(address caller);

    /// @notice The caller of `guardianTighten` is not the guardian.
    /// @param caller The account that called.
    error NotGuardian(address caller);

    /// @notice The caller of `pause` is neither the guardian nor the owner, the two accounts that may pause.
    /// @param caller The account that called.
    /// @param guardian The current guardian, one of the two accounts allowed to pause (zero if none is set).
    /// @param owner The current owner, the other account allowed to pause.
    error NotGuardianOrOwner(address caller, address guardian, address owner);

    /// @notice A required address (the target or the owner) is the zero address.
    error ZeroAddress();

    /// @notice The governor is paused: no parameter may change, and it cannot be paused again.
    error GovernorPaused();

    /// @notice `unpause` was called while the governor is not paused.
    error GovernorNotPaused();

    /// @notice The update is stale: the block's timestamp is past its `validUntil`.
    /// @param validUntil The last timestamp at which the update could apply.
    /// @param timestamp The block's timestamp.
    error UpdateExpired(uint256 validUntil, uint256 timestamp);

    /// @notice The asset is not a listed collateral asset of the target.
    /// @param asset The asset.
    error AssetNotListed(address asset);

    /// @notice The owner has not set bounds for the asset yet, so no update may apply to it.
    /// @param asset The asset.
    error AssetNotConfigured(address asset);

    /// @notice The proposed parameters equal the current ones.
    /// @param asset The asset.
    error NoChange(address asset);

    /// @notice A proposed parameter is outside its range.
    /// @param param Index of the parameter (0 LTV, 1 liquidation threshold, 2 liquidation bonus).
    /// @param value The proposed value.
    /// @param min The lowest allowed value.
    /// @param max The highest allowed value.
    error OutOfRange(uint8 param, uint256 value, uint256 min, uint256 max);

    /// @notice A parameter would rise by more than its maximum step per change.
    /// @param param Index of the parameter.
    /// @param fromValue The current value.
    /// @param toValue The proposed value.
    /// @param maxIncrease The maximum increase per change, in basis points.
    error IncreaseTooLarge(uint8 param, uint256 fromValue, uint256 toValue, uint256 maxIncrease);

    /// @notice A parameter would fall by more than its maximum step per change.
    /// @param param Index of the parameter.
    /// @param fromValue The current value.
    /// @param toValue The proposed value.
    /// @param maxDecrease The maximum decrease per change, in basis points.
    error DecreaseTooLarge(uint8 param, uint256 fromValue, uint256 toValue, uint256 maxDecrease);

    /// @notice A parameter changed too recently: its minimum delay between changes has not passed.
    /// @param param Index of the parameter.
    /// @param nextAllowedAt The earliest timestamp at which it may change again.
    error TooSoon(uint8 param, uint256 nextAllowedAt);

    /// @notice The proposed LTV is not strictly below the proposed liquidation threshold.
    /// @param ltv The proposed LTV.
    /// @param liquidationThreshold The proposed liquidation threshold.
    error LtvNotBelowThreshold(uint256 ltv, uint256 liquidationThreshold);

    /// @notice `LT * (1 + LB) >= 100 %`: a liquidation at the threshold would pay out more collateral than there
    ///         is, creating bad debt by construction.
    /// @param liquidationThreshold The proposed liquidation threshold.
    /// @param liquidationBonus The proposed liquidation bonus.
    error BonusCreatesBadDebt(uint256 liquidationThreshold, uint256 liquidationBonus);

    /// @notice The guardian's change would loosen a parameter: raise the LTV, change the liquidation threshold or
    ///         lower the liquidation bonus.
    /// @param param Index of the parameter.
    /// @param fromValue The current value.
    /// @param toValue The proposed value.
    error GuardianMayOnlyTighten(uint8 param, uint256 fromValue, uint256 toValue);

    /// @notice Bounds set by the owner are invalid: `min > max` or `max > 10_000`.
    /// @param param Index of the parameter whose bounds are invalid.
    error InvalidBounds(uint8 param);

    /// @notice The asset's current value of a parameter lies outside the new bounds.
    /// @param param Index of the parameter.
    /// @param current Its current value.
    error CurrentOutsideBounds(uint8 param, uint256 current);

    // ------------------------------------------------------------------ keeper

    /// @notice Applies new risk parameters to `asset` if every bound allows it. Only the keeper may call it.
    /// @dev Reverts with the first rule broken, in the order of `checkUpdate`. Each changed parameter restarts
    ///      its min-delay clock. Emits `ParametersUpdated`.
    /// @param asset The collateral asset.
    /// @param params The proposed parameters, in basis points.
    /// @param reportHash Hash of the explanation report of this update (the report manifest's sha256).
    /// @param validUntil Timestamp after which the update is stale and must not apply.
    /// @return updateId The id assigned to this update.
    function submitUpdate(address asset, RiskParams calldata params, bytes32 reportHash, uint256 validUntil)
        external
        returns (uint256 updateId);

    // ---------------------------------------------------------------- guardian

    /// @notice Emergency de-risking by the guardian: may lower LTV and raise the liquidation bonus, never loosen,
    ///         never touch the liquidation threshold (lowering it liquidates users at once). Only the guardian may
    ///         call it.
    /// @dev All the keeper's rules still hold (range, steps, delays, linked rules); the bounds set how fast a
    ///      de-risking move may be. Blocked while paused: a paused governor changes nothing. There is no expiry
    ///      (the guardian sends its own transaction). Order of checks: role, paused, configured, the direction of
    ///      LTV, LT, LB (`GuardianMayOnlyTighten`), then `validateChange`. Emits `ParametersUpdated` and
    ///      `GuardianTightened`.
    /// @param asset The collateral asset.
    /// @param params The tightened parameters.
    /// @param reportHash Hash of the guardian's justification.
    /// @return updateId The id assigned to this update.
    function guardianTighten(address asset, RiskParams calldata params, bytes32 reportHash)
        external
        returns (uint256 updateId);

    /// @notice Stops every parameter change until the owner unpauses. Callable by the guardian or the owner;
    ///         anyone else gets `NotGuardianOrOwner`, and pausing a paused governor reverts with `GovernorPaused`.
    ///         Emits `Paused`.
    function pause() external;

    // ------------------------------------------------------------------- owner

    /// @notice Resumes parameter changes. Only the owner may unpause; reverts with `GovernorNotPaused` when not
    ///         paused. Emits `Unpaused`.
    function unpause() external;

    /// @notice Sets the bounds of all three parameters of `asset` (indexed LTV, LT, LB) and marks it configured.
    ///         Only the owner may call it. Emits `BoundsSet`.
    /// @dev Requires `min <= max <= 10_000` per parameter and the asset's current parameters inside the new
    ///      ranges, so that "every parameter is inside its bounds" holds at all times.
    /// @param asset A collateral asset listed on the target.
    /// @param newBounds Bounds for LTV, liquidation threshold and liquidation bonus.
    function setBounds(address asset, ParamBounds[3] calldata newBounds) external;

    /// @notice Sets the keeper. Only the owner may call it. Emits `KeeperSet`.
    /// @param newKeeper The new keeper; zero disables automated updates.
    function setKeeper(address newKeeper) external;

    /// @notice Sets the guardian. Only the owner may call it. Emits `GuardianSet`.
    /// @param newGuardian The new guardian; zero leaves only the owner able to pause.
    function setGuardian(address newGuardian) external;

    /// @notice Hands the owner role to `newOwner` (e.g. a timelock). Only the owner may call it. Emits
    ///         `OwnershipTransferred`.
    /// @param newOwner The new owner; must not be the zero address.
    function transferOwnership(address newOwner) external;

    // ------------------------------------------------------------------- views

    /// @notice 100 % in basis points (10_000).
    /// @return The basis-point scale of every parameter.
    function BPS() external view returns (uint256);

    /// @notice The market (or the adapter in front of it) whose parameters this governor sets.
    /// @return The target; this governor is its risk admin.
    function target() external view returns (IRiskTarget);

    /// @notice The DAO or its timelock: sets bounds and roles, unpauses.
    /// @return The owner.
    function owner() external view returns (address);

    /// @notice The automated risk oracle allowed to submit updates.
    /// @return The keeper (zero: automated updates disabled).
    function keeper() external view returns (address);

    /// @notice Emergency role: may pause and may only tighten parameters.
    /// @return The guardian (zero: none).
    function guardian() external view returns (address);

    /// @notice While true, no parameter can change.
    /// @return Whether the governor is paused.
    function paused() external view returns (bool);

    /// @notice Whether the owner has set bounds for `asset`; updates apply only to configured assets.
    /// @param asset The collateral asset.
    /// @return True once `setBounds` succeeded for `asset`.
    function isConfigured(address asset) external view returns (bool);

    /// @notice Id of the last update applied to an asset; ids strictly increase per asset, starting at 1.
    /// @param asset The collateral asset.
    /// @return The id of the last update, 0 if none.
    function lastUpdateId(address asset) external view returns (uint256);

    /// @notice The revert data `submitUpdate(asset, params, _, validUntil)` would produce now from the keeper;
    ///         empty when the update would apply.
    /// @dev Order of checks: paused, expiry, configured, then `validateChange`.
    /// @param asset The collateral asset.
    /// @param params The proposed parameters.
    /// @param validUntil Timestamp after which the update would be stale.
    /// @return The ABI-encoded custom error of the first rule broken, or empty bytes.
    function checkUpdate(address asset, RiskParams calldata params, uint256 validUntil)
        external
        view
        returns (bytes memory);

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
    /// @return The ABI-encoded custom error of the first rule broken, or empty bytes.
    function validateChange(
        address asset,
        RiskParams calldata current,
        RiskParams calldata proposed,
        ParamBounds[3] calldata bounds,
        uint64[3] calldata lastChangedAt,
        uint256 timestamp
    ) external pure returns (bytes memory);

    /// @notice Bounds of `asset`'s LTV, liquidation threshold and liquidation bonus.
    /// @param asset The collateral asset.
    /// @return The bounds, indexed LTV, LT, LB (all zero while not configured).
    function getBounds(address asset) external view returns (ParamBounds[3] memory);

    /// @notice Timestamp of the last change of each parameter of `asset` made through this governor.
    /// @param asset The collateral asset.
    /// @return Timestamps indexed LTV, LT, LB; 0 if never changed here.
    function getLastChangedAt(address asset) external view returns (uint64[3] memory);

    /// @notice Earliest timestamp at which each parameter of `asset` may change again.
    /// @param asset The collateral asset.
    /// @return next Timestamps indexed LTV, LT, LB; 0 when the parameter was never changed (no delay).
    function nextAllowedAt(address asset) external view returns (uint256[3] memory next);
}
