// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20, IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IRiskTarget} from "../interfaces/IRiskTarget.sol";
import {RiskParams} from "../interfaces/RiskTypes.sol";
import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title LendingMarket
/// @notice The reference lending market the oracle governs: several ERC-20 collateral assets, one borrowable
///         stable asset valued at 1 USD, prices from Chainlink-style feeds. Health factor, LTV-limited borrowing,
///         liquidation with a close factor and the liquidation bonus, bad-debt accounting, and enumerable
///         positions for readers. No interest accrues: the market exists to exercise risk parameters, and without
///         interest its books reduce to one identity, `cash + totalDebt + badDebt == totalSupplied`.
/// @dev Values are in USD with 18 decimals (WAD). Risk parameters can only be set by `riskAdmin` (the governor).
contract LendingMarket is IRiskTarget, ReentrancyGuard {
    using SafeERC20 for IERC20;

    uint256 internal constant BPS = 10_000;
    uint256 internal constant WAD = 1e18;
    /// @notice Below this health factor a liquidation may repay the whole debt (as in Aave v3).
    uint256 public constant FULL_LIQUIDATION_HF = 0.95e18;

    struct CollateralConfig {
        AggregatorV3Interface feed;
        uint8 tokenDecimals;
        uint8 feedDecimals;
        bool listed;
        RiskParams params;
    }

    /// @notice The per-account aggregate a liquidator or reader needs, all in USD WAD.
    struct AccountData {
        uint256 collateralValue;
        uint256 borrowLimit; // sum of collateral value x LTV
        uint256 liquidationValue; // sum of collateral value x LT
        uint256 debtValue;
        uint256 healthFactor; // liquidationValue / debtValue in WAD; max uint when no debt
    }

    IERC20 public immutable stable;
    uint8 public immutable stableDecimals;
    address public owner;
    address public riskAdmin;
    /// @notice Share of a position's debt one liquidation may repay while HF >= FULL_LIQUIDATION_HF.
    uint16 public closeFactorBps;

    address[] internal _assets;
    mapping(address asset => CollateralConfig) internal _config;

    address[] internal _borrowers;
    mapping(address account => bool) public isBorrower;
    mapping(address account => mapping(address asset => uint256)) public collateralOf;
    mapping(address account => uint256) public debtOf;
    mapping(address asset => uint256) public totalCollateral;
    uint256 public totalDebt;
    uint256 public badDebt;
    uint256 public totalSupplied;
    mapping(address lender => uint256) public suppliedOf;

    event AssetListed(address indexed asset, address indexed feed, RiskParams params);
    event RiskParamsSet(address indexed asset, RiskParams params);
    event RiskAdminSet(address indexed previousAdmin, address indexed newAdmin);
    event CloseFactorSet(uint16 closeFactorBps);
    event Supplied(address indexed lender, uint256 amount);
    event SupplyWithdrawn(address indexed lender, uint256 amount);
    event Deposited(address indexed account, address indexed asset, uint256 amount);
    event Withdrawn(address indexed account, address indexed asset, uint256 amount);
    event Borrowed(address indexed account, uint256 amount);
    event Repaid(address indexed payer, address indexed account, uint256 amount);
    event Liquidated(
        address indexed liquidator, address indexed account, address indexed asset, uint256 repaid, uint256 seized
    );
    event BadDebtRecorded(address indexed account, uint256 amount);

    error NotOwner(address caller);
    error NotRiskAdmin(address caller);
    error AssetAlreadyListed(address asset);
    error UnknownAsset(address asset);
    error ZeroAmount();
    error InvalidParams();
    error InvalidPrice(address asset, int256 answer);
    error InsufficientCollateral(address account, uint256 debtValue, uint256 borrowLimit);
    error InsufficientLiquidity(uint256 requested, uint256 available);
    error InsufficientBalance(uint256 requested, uint256 available);
    error PositionHealthy(address account, uint256 healthFactor);
    error NoDebt(address account);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    /// @param stable_ The borrowable asset, valued at 1 USD.
    /// @param owner_ Lists assets and appoints the risk admin.
    constructor(IERC20Metadata stable_, address owner_) {
        stable = stable_;
        stableDecimals = stable_.decimals();
        owner = owner_;
        closeFactorBps = 5_000;
    }

    // ------------------------------------------------------------------- admin

    /// @notice Lists a collateral asset with its feed and initial risk parameters.
    function listAsset(address asset, AggregatorV3Interface feed, RiskParams calldata params) external onlyOwner {
        if (_config[asset].listed) revert AssetAlreadyListed(asset);
        if (params.ltv >= params.liquidationThreshold || params.liquidationThreshold > BPS) revert InvalidParams();
        _config[asset] = CollateralConfig({
            feed: feed,
            tokenDecimals: IERC20Metadata(asset).decimals(),
            feedDecimals: feed.decimals(),
            listed: true,
            params: params
        });
        _assets.push(asset);
        emit AssetListed(asset, address(feed), params);
    }

    /// @notice Appoints the only account allowed to set risk parameters (the governor).
    function setRiskAdmin(address newAdmin) external onlyOwner {
        emit RiskAdminSet(riskAdmin, newAdmin);
        riskAdmin = newAdmin;
    }

    /// @notice Sets the close factor (share of debt one liquidation may repay).
    function setCloseFactor(uint16 newCloseFactorBps) external onlyOwner {
        if (newCloseFactorBps == 0 || newCloseFactorBps > BPS) revert InvalidParams();
        closeFactorBps = newCloseFactorBps;
        emit CloseFactorSet(newCloseFactorBps);
    }

    /// @inheritdoc IRiskTarget
    function setRiskParams(address asset, RiskParams calldata params) external override {
        if (msg.sender != riskAdmin) revert NotRiskAdmin(msg.sender);
        if (!_config[asset].listed) revert UnknownAsset(asset);
        _config[asset].params = params;
        emit RiskParamsSet(asset, params);
    }

    // ----------------------------------------------------------------- lenders

    /// @notice Supplies stable liquidity that borrowers can draw.
    function supply(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        stable.safeTransferFrom(msg.sender, address(this), amount);
        suppliedOf[msg.sender] += amount;
        totalSupplied += amount;
        emit Supplied(msg.sender, amount);
    }

    /// @notice Withdraws supplied liquidity, as far as idle cash allows.
    function withdrawSupply(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        if (amount > suppliedOf[msg.sender]) revert InsufficientBalance(amount, suppliedOf[msg.sender]);
        uint256 cash = stable.balanceOf(address(this));
        if (amount > cash) revert InsufficientLiquidity(amount, cash);
        suppliedOf[msg.sender] -= amount;
        totalSupplied -= amount;
        stable.safeTransfer(msg.sender, amount);
        emit SupplyWithdrawn(msg.sender, amount);
    }

    // --------------------------------------------------------------- borrowers

    /// @notice Deposits `amount` of collateral `asset` for the caller.
    function deposit(address asset, uint256 amount) external nonReentrant {
        if (!_config[asset].listed) revert UnknownAsset(asset);
        if (amount == 0) revert ZeroAmount();
        IERC20(asset).safeTransferFrom(msg.sender, address(this), amount);
        _track(msg.sender);
        collateralOf[msg.sender][asset] += amount;
        totalCollateral[asset] += amount;
        emit Deposited(msg.sender, asset, amount);
    }

    /// @notice Withdraws collateral; with debt outstanding, the remaining borrow limit must still cover it.
    function withdraw(address asset, uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 held = collateralOf[msg.sender][asset];
        if (amount > held) revert InsufficientBalance(amount, held);
        collateralOf[msg.sender][asset] = held - amount;
        totalCollateral[asset] -= amount;
        if (debtOf[msg.sender] != 0) _requireBorrowLimit(msg.sender);
        IERC20(asset).safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, asset, amount);
    }

    /// @notice Borrows `amount` of the stable asset against the caller's collateral, limited by LTV.
    function borrow(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 cash = stable.balanceOf(address(this));
        if (amount > cash) revert InsufficientLiquidity(amount, cash);
        _track(msg.sender);
        debtOf[msg.sender] += amount;
        totalDebt += amount;
        _requireBorrowLimit(msg.sender);
        stable.safeTransfer(msg.sender, amount);
        emit Borrowed(msg.sender, amount);
    }

    /// @notice Repays up to `amount` of `account`'s debt; returns what was repaid.
    function repay(address account, uint256 amount) external nonReentrant returns (uint256 repaid) {
        uint256 debt = debtOf[account];
        if (debt == 0) revert NoDebt(account);
        if (amount == 0) revert ZeroAmount();
        repaid = amount > debt ? debt : amount;
        stable.safeTransferFrom(msg.sender, address(this), repaid);
        debtOf[account] = debt - repaid;
        totalDebt -= repaid;
        emit Repaid(msg.sender, account, repaid);
    }

    // -------------------------------------------------------------- liquidators

    /// @notice Liquidates an unhealthy position (HF < 1): repays up to the close factor of its debt (all of it
    ///         below HF 0.95) and seizes collateral `asset` worth the repaid value plus the liquidation bonus.
    ///         When the position has no collateral left, its remaining debt is recorded as bad debt.
    /// @param account The borrower.
    /// @param asset The collateral to seize.
    /// @param maxRepay Most stable the liquidator is willing to repay.
    /// @return repaid Stable repaid. @return seized Collateral transferred to the liquidator.
    function liquidate(address account, address asset, uint256 maxRepay)
        external
        nonReentrant
        returns (uint256 repaid, uint256 seized)
    {
        CollateralConfig storage cfg = _config[asset];
        if (!cfg.listed) revert UnknownAsset(asset);
        if (maxRepay == 0) revert ZeroAmount();
        AccountData memory data = accountData(account);
        if (data.healthFactor >= WAD) revert PositionHealthy(account, data.healthFactor);

        uint256 debt = debtOf[account];
        uint256 closable = data.healthFactor < FULL_LIQUIDATION_HF ? debt : debt * closeFactorBps / BPS;
        repaid = maxRepay < closable ? maxRepay : closable;

        uint256 price = _price(asset);
        uint256 held = collateralOf[account][asset];
        // collateral = repaid value x (1 + LB) / price, rounded down (in the borrower's favour)
        seized = _stableToValue(repaid) * (BPS + cfg.params.liquidationBonus) / BPS
            * (10 ** (cfg.tokenDecimals + cfg.feedDecimals)) / (price * WAD);
        if (seized > held) {
            seized = held;
            repaid = _valueToStable(_assetValue(asset, held, price) * BPS / (BPS + cfg.params.liquidationBonus));
        }
        if (repaid == 0 || seized == 0) revert ZeroAmount();

        stable.safeTransferFrom(msg.sender, address(this), repaid);
        debtOf[account] = debt - repaid;
        totalDebt -= repaid;
        collateralOf[account][asset] = held - seized;
        totalCollateral[asset] -= seized;
        IERC20(asset).safeTransfer(msg.sender, seized);
        emit Liquidated(msg.sender, account, asset, repaid, seized);

        if (debtOf[account] != 0 && _hasNoCollateral(account)) {
            uint256 lost = debtOf[account];
            debtOf[account] = 0;
            totalDebt -= lost;
            badDebt += lost;
            emit BadDebtRecorded(account, lost);
        }
    }

    // ------------------------------------------------------------------- views

    /// @inheritdoc IRiskTarget
    function isListedAsset(address asset) external view override returns (bool) {
        return _config[asset].listed;
    }

    /// @inheritdoc IRiskTarget
    function getRiskParams(address asset) external view override returns (RiskParams memory) {
        if (!_config[asset].listed) revert UnknownAsset(asset);
        return _config[asset].params;
    }

    /// @notice The collateral assets, in listing order (the order of `positionOf`'s collateral array).
    function assets() external view returns (address[] memory) {
        return _assets;
    }

    /// @notice Feed, decimals and risk parameters of a listed asset.
    function collateralConfig(address asset) external view returns (CollateralConfig memory) {
        if (!_config[asset].listed) revert UnknownAsset(asset);
        return _config[asset];
    }

    /// @notice Number of accounts that ever deposited or borrowed.
    function borrowersCount() external view returns (uint256) {
        return _borrowers.length;
    }

    /// @notice The `index`-th account that ever deposited or borrowed.
    function borrowerAt(uint256 index) external view returns (address) {
        return _borrowers[index];
    }

    /// @notice Collateral of `account` per asset (in `assets()` order, token units) and its debt (stable units).
    function positionOf(address account) external view returns (uint256[] memory collateral, uint256 debt) {
        uint256 n = _assets.length;
        collateral = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            collateral[i] = collateralOf[account][_assets[i]];
        }
        debt = debtOf[account];
    }

    /// @notice Collateral value, borrow limit, liquidation value, debt value and health factor of `account`.
    function accountData(address account) public view returns (AccountData memory data) {
        uint256 n = _assets.length;
        for (uint256 i = 0; i < n; ++i) {
            address asset = _assets[i];
            uint256 amount = collateralOf[account][asset];
            if (amount == 0) continue;
            uint256 value = _assetValue(asset, amount, _price(asset));
            RiskParams memory p = _config[asset].params;
            data.collateralValue += value;
            data.borrowLimit += value * p.ltv / BPS;
            data.liquidationValue += value * p.liquidationThreshold / BPS;
        }
        data.debtValue = _stableToValue(debtOf[account]);
        data.healthFactor = data.debtValue == 0 ? type(uint256).max : data.liquidationValue * WAD / data.debtValue;
    }

    /// @notice Health factor of `account` in WAD (max uint when it has no debt).
    function healthFactor(address account) external view returns (uint256) {
        return accountData(account).healthFactor;
    }

    /// @notice Price of `asset` in its feed's decimals; reverts on a non-positive answer.
    function priceOf(address asset) external view returns (uint256) {
        return _price(asset);
    }

    // ---------------------------------------------------------------- internal

    function _track(address account) internal {
        if (!isBorrower[account]) {
            isBorrower[account] = true;
            _borrowers.push(account);
        }
    }

    function _requireBorrowLimit(address account) internal view {
        AccountData memory data = accountData(account);
        if (data.debtValue > data.borrowLimit) {
            revert InsufficientCollateral(account, data.debtValue, data.borrowLimit);
        }
    }

    function _hasNoCollateral(address account) internal view returns (bool) {
        uint256 n = _assets.length;
        for (uint256 i = 0; i < n; ++i) {
            if (collateralOf[account][_assets[i]] != 0) return false;
        }
        return true;
    }

    function _price(address asset) internal view returns (uint256) {
        (, int256 answer,,,) = _config[asset].feed.latestRoundData();
        if (answer <= 0) revert InvalidPrice(asset, answer);
        return uint256(answer);
    }

    function _assetValue(address asset, uint256 amount, uint256 price) internal view returns (uint256) {
        CollateralConfig storage cfg = _config[asset];
        return amount * price * WAD / (10 ** (cfg.tokenDecimals + cfg.feedDecimals));
    }

    function _stableToValue(uint256 amount) internal view returns (uint256) {
        return amount * WAD / (10 ** stableDecimals);
    }

    function _valueToStable(uint256 value) internal view returns (uint256) {
        return value * (10 ** stableDecimals) / WAD;
    }
}
